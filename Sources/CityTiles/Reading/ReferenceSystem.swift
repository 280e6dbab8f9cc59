import Foundation

/// What a `metadata.referenceSystem` string (or `--crs`) names.
///
/// CityJSON names its CRS by an OGC URL (`https://www.opengis.net/def/crs/EPSG/0/7415`);
/// files in the wild also use the URN (`urn:ogc:def:crs:EPSG::7415`) or plain `EPSG:7415`.
/// A compound system with a code of its own (EPSG:7415 is RD New with NAP heights) is that
/// code, never its vertical part. A string that joins two codes (`EPSG:4326+5773`, an OGC
/// `crs-compound` URL, a compound URN) names no single code the catalog can keep, so it is
/// reported as such rather than cut down to one of its parts.
public enum ReferenceSystem: Equatable, Sendable {
    /// One EPSG code.
    case epsg(Int)
    /// Several codes joined (horizontal, vertical ...), in the order written.
    case compound([Int])
    /// Not a form this reader knows.
    case unrecognized

    /// Parses the forms above; anything else is `.unrecognized`, never a guess.
    public init(parsing raw: String) {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let lower = text.lowercased()
        if lower.hasPrefix("epsg:") {
            self = Self.joined(text.dropFirst(5).split(separator: "+", omittingEmptySubsequences: false).map { Self.code($0) })
        } else if lower.hasPrefix("urn:ogc:def:crs,") {
            // urn:ogc:def:crs,crs:EPSG::28992,crs:EPSG::5709
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).dropFirst()
            self = Self.joined(parts.map { part -> Int? in
                let p = part.lowercased()
                guard p.hasPrefix("crs:epsg:") else { return nil }
                return Self.urnCode(part.dropFirst(9))
            })
        } else if lower.hasPrefix("urn:ogc:def:crs:epsg:") {
            self = Self.urnCode(text.dropFirst(21)).map(Self.epsg) ?? .unrecognized
        } else if let path = Self.opengisPath(text) {
            if path.lowercased().hasPrefix("/def/crs-compound?") {
                // /def/crs-compound?1=URL&2=URL
                let query = path.drop { $0 != "?" }.dropFirst()
                self = Self.joined(query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> Int? in
                    guard let eq = pair.firstIndex(of: "="), let inner = Self.opengisPath(String(pair[pair.index(after: eq)...])) else { return nil }
                    return Self.urlCode(inner)
                })
            } else {
                self = Self.urlCode(path).map(Self.epsg) ?? .unrecognized
            }
        } else {
            self = .unrecognized
        }
    }

    /// The single code, if that is what the text names.
    public var code: Int? { if case .epsg(let c) = self { c } else { nil } }

    /// What a person should read about a `referenceSystem` that is not one code.
    public func problem(_ text: String) -> String? {
        let shown = text.count > 120 ? String(text.prefix(120)) + "..." : text
        switch self {
        case .epsg: return nil
        case .compound(let codes):
            return "the reference system \"\(shown)\" joins \(codes.map { "EPSG:\($0)" }.joined(separator: " and ")); the catalog keeps one code: "
                + "name the compound system's own EPSG code instead (EPSG:7415 is RD New with NAP heights, for example)"
        case .unrecognized:
            return "the reference system \"\(shown)\" is not an EPSG code (EPSG:N, https://www.opengis.net/def/crs/EPSG/0/N or urn:ogc:def:crs:EPSG::N)"
        }
    }

    static func code(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.allSatisfy(\.isASCII), s.allSatisfy(\.isNumber), let c = Int(s), c > 0, c < 10_000_000 else { return nil }
        return c
    }

    /// `VERSION:CODE` after `urn:ogc:def:crs:EPSG:` (the version may be empty).
    static func urnCode(_ s: Substring) -> Int? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        return code(parts[1])
    }

    /// `/def/crs/EPSG/VERSION/CODE` (a trailing slash allowed).
    static func urlCode(_ path: String) -> Int? {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.last == "" { parts.removeLast() }
        guard parts.count == 6, parts[0].isEmpty, parts[1] == "def", parts[2] == "crs", parts[3].uppercased() == "EPSG" else { return nil }
        return code(parts[5])
    }

    /// The path of an opengis.net URL (http or https, with or without www.).
    static func opengisPath(_ text: String) -> String? {
        for prefix in ["https://www.opengis.net", "http://www.opengis.net", "https://opengis.net", "http://opengis.net"]
        where text.lowercased().hasPrefix(prefix) {
            return String(text.dropFirst(prefix.count))
        }
        return nil
    }

    /// One code is `.epsg`, several `.compound`; any part unreadable makes it unrecognised.
    static func joined(_ codes: [Int?]) -> ReferenceSystem {
        let found = codes.compactMap { $0 }
        guard !found.isEmpty, found.count == codes.count else { return .unrecognized }
        return found.count == 1 ? .epsg(found[0]) : .compound(found)
    }
}
