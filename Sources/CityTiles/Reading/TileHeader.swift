import StrictJSON

/// What a tile says about itself before its objects: version, transform and CRS.
public struct TileHeader: Sendable, Equatable {
    /// The version as written in the file ("2.0", or "1.1" before upgrade).
    public var version: String
    public var scale: SIMD3<Double>
    public var translate: SIMD3<Double>
    /// EPSG code of the reference system, when the file or the operator names one.
    public var epsg: Int?
    /// Whether the file has its `transform` (CityJSON 1.1 and 2.0 require one).
    public var hasTransform = true

    /// Largest absolute CRS coordinate accepted: beyond it no real place on Earth is meant.
    public static let coordinateLimit: Double = 1e9

    /// Reads the header of the CityJSON object at node `root` of a parsed document.
    static func read(_ doc: JSONDocument, _ root: Int, file: String, crsOverride: Int?) throws(TileError) -> TileHeader {
        var members = JSONObject()
        for key: StaticString in ["type", "version", "transform", "metadata"] {
            if let node = doc.member(root, key) { members.append(key.description, doc.value(node)) }
        }
        return try read(members, file: file, crsOverride: crsOverride)
    }

    /// Reads `version`, `transform` and `metadata.referenceSystem` of a CityJSON object.
    static func read(_ root: JSONObject, file: String, crsOverride: Int?) throws(TileError) -> TileHeader {
        guard let type = root["type"] else { throw TileError(file: file, problem: "no top-level \"type\": not a CityJSON file") }
        guard type.string == "CityJSON" else {
            throw TileError(file: file, problem: "top-level \"type\" is \(type.string.map { "\"\($0)\"" } ?? type.typeName), \"CityJSON\" was expected")
        }
        guard let version = root["version"]?.string else { throw TileError(file: file, problem: "no \"version\" string") }
        switch version {
        case "2.0", "2.0.0", "2.0.1", "1.1", "1.1.0", "1.1.1", "1.1.2", "1.1.3": break
        default:
            throw TileError(file: file, problem: "CityJSON version \(version) is not supported: 2.0 is read, 1.1 is upgraded on import; convert older files with cjio upgrade")
        }
        var scale = SIMD3<Double>(1, 1, 1), translate = SIMD3<Double>(0, 0, 0)
        let hasTransform = root["transform"] != nil
        if let t = root["transform"] {
            guard let s = t["scale"]?.array, s.count == 3, let tr = t["translate"]?.array, tr.count == 3 else {
                throw TileError(file: file, problem: "\"transform\" needs \"scale\" and \"translate\", three numbers each")
            }
            for k in 0..<3 {
                guard let sk = s[k].number, sk.isFinite, sk > 0 else {
                    throw TileError(file: file, problem: "transform.scale[\(k)] must be a positive finite number")
                }
                guard let tk = tr[k].number, tk.isFinite, abs(tk) <= coordinateLimit else {
                    throw TileError(file: file, problem: "transform.translate[\(k)] must be a finite number within ±\(Int(coordinateLimit))")
                }
                scale[k] = sk; translate[k] = tk
            }
        }
        // The file's own reference system wins; --crs only names one for files that name
        // none, and a file that names another is refused rather than relabelled.
        var epsg: Int?
        if let rs = root["metadata"]?["referenceSystem"] {
            guard let text = rs.string else {
                throw TileError(file: file, problem: "metadata.referenceSystem is \(rs.typeName), a string naming an EPSG code was expected")
            }
            let system = ReferenceSystem(parsing: text)
            if let problem = system.problem(text) { throw TileError(file: file, problem: "metadata.referenceSystem: " + problem) }
            epsg = system.code
        }
        if let crsOverride {
            if let own = epsg, own != crsOverride {
                throw TileError(file: file, problem: "the file names EPSG:\(own) but --crs says EPSG:\(crsOverride); --crs is only for files that name no reference system")
            }
            epsg = crsOverride
        }
        var header = TileHeader(version: version, scale: scale, translate: translate, epsg: epsg)
        header.hasTransform = hasTransform
        return header
    }

    /// The EPSG code named by an OGC CRS URL or URN ("https://www.opengis.net/def/crs/EPSG/0/7415",
    /// "urn:ogc:def:crs:EPSG::2056") or a plain "EPSG:7415"; nil for anything else, compound
    /// systems written as two codes included (see `ReferenceSystem`).
    public static func epsgCode(_ text: String) -> Int? { ReferenceSystem(parsing: text).code }

    /// True for a 1.x file that is upgraded on import.
    public var isUpgraded: Bool { version.hasPrefix("1.") }
}
