import Districts
import ArgumentParser
import CityTiles
import Foundation

struct Tiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import, inspect and generate CityJSON tiles in the catalog.",
        subcommands: [Import.self, List.self, Show.self, Remove.self, Query.self, Generate.self])

    struct CatalogOption: ParsableArguments {
        @Option(help: "SQLite catalog of tiles; created on first use.") var catalog = "twinscene.sqlite"
        @Option(help: "Seconds to wait for a catalog another process is writing before giving up (and naming it).")
        var wait = Catalog.defaultLockWait
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import .city.json / .city.jsonl files (or folders of them); each file all or nothing.")
        @Argument(help: "Tile files or folders.") var paths: [String]
        @Option(help: "Reference system for files that name none, as EPSG:N.") var crs: String?
        @Option(help: "Threads parsing large files while another writes the catalog; 0 does everything on one thread. (default: one per core)")
        var workers = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: ArgumentHelp("Bytes of CityObjects or CityJSONSeq lines per parsing job.", visibility: .hidden))
        var pieceBytes = 1 << 20
        @Flag(help: "Also import the tiles in the folders' subfolders.") var recursive = false
        @Flag(help: "Print the summary as one JSON object (files, what became of each, totals) instead of lines.") var json = false
        @OptionGroup var options: CatalogOption

        /// What became of one file, for --json.
        struct FileOutcome: Encodable {
            var file: String
            var summary: ImportSummary?
            var error: String?
        }

        func run() throws {
            let epsg = try crs.map { text -> Int in
                let system = ReferenceSystem(parsing: text)
                guard let code = system.code else { throw ValidationError("--crs: " + (system.problem(text) ?? "takes EPSG:N, e.g. EPSG:7415")) }
                return code
            }
            // Folders are read first, so that a wrong path creates no catalog.
            let files = try expand(paths)
            let catalog = try Catalog(path: options.catalog, lockWait: max(0, options.wait))
            var failures = 0
            let terminal = isatty(STDERR_FILENO) == 1
            // Tile names come from file names: two files of one import must not claim one name.
            var claimedBy: [String: String] = [:]
            var statuses: [ImportSummary.Status: Int] = [:]
            var objects = 0
            var outcomes: [FileOutcome] = []
            for file in files {
                let name = Catalog.tileName(for: file)
                if let other = claimedBy[name] {
                    failures += 1
                    let why = "\(file): it would be tile '\(name)', which \(other) is in this import; rename one of them"
                    FileHandle.standardError.write(Data("refused \(why)\n".utf8))
                    outcomes.append(FileOutcome(file: file, error: why))
                    continue
                }
                claimedBy[name] = file
                do {
                    let s = try catalog.importTile(path: file, crsOverride: epsg, workers: max(0, workers), pieceBytes: max(1024, pieceBytes)) { p in
                        // A progress line on long imports (reported every half second), on a terminal only.
                        guard terminal else { return }
                        let line = String(format: "\r%@: %3.0f%%  %.1f MB/s  %.0f objects/s\u{1B}[K", Catalog.tileName(for: file),
                                          p.fraction * 100, p.megabytesPerSecond, p.objectsPerSecond)
                        FileHandle.standardError.write(Data(line.utf8))
                    }
                    if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    let rate = s.seconds > 0 ? Double(s.bytes) / 1e6 / s.seconds : 0
                    outcomes.append(FileOutcome(file: file, summary: s))
                    if !json { print("\(s.status.rawValue) \(s.tile): \(s.objects) objects, EPSG:\(s.epsg), \(String(format: "%.2f MB in %.2f s (%.1f MB/s)", Double(s.bytes) / 1e6, s.seconds, rate))"
                          + (s.upgradedFrom.map { ", upgraded from CityJSON \($0)" } ?? "")) }
                    statuses[s.status, default: 0] += 1
                    objects += s.objects
                } catch {
                    failures += 1
                    FileHandle.standardError.write(Data("refused \(error)\n".utf8))
                    outcomes.append(FileOutcome(file: file, error: "\(error)"))
                }
            }
            if json {
                struct Out: Encodable {
                    var files: [FileOutcome]
                    var imported: Int, replaced: Int, unchanged: Int, refused: Int, objects: Int
                }
                print(try JSONText.encode(Out(files: outcomes, imported: statuses[.imported] ?? 0, replaced: statuses[.replaced] ?? 0,
                                              unchanged: statuses[.unchanged] ?? 0, refused: failures, objects: objects)))
            } else if files.count > 1 {
                let counts = [ImportSummary.Status.imported, .replaced, .unchanged].map { "\(statuses[$0] ?? 0) \($0.rawValue)" }
                print("\(files.count) files: \(counts.joined(separator: ", ")), \(failures) refused; \(objects) objects")
            }
            if failures > 0 { throw ExitCode(1) }
        }

        /// Files and the tiles inside folders (suffixes matched in any case; subfolders with
        /// --recursive), in name order. A folder holding none is an error.
        func expand(_ paths: [String]) throws -> [String] {
            let fm = FileManager.default
            func isTile(_ name: String) -> Bool { let n = name.lowercased(); return n.hasSuffix(".json") || n.hasSuffix(".jsonl") }
            var out: [String] = []
            for p in paths {
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else { out.append(p); continue }
                let names: [String]
                if recursive {
                    names = (fm.enumerator(atPath: p)?.compactMap { $0 as? String } ?? []).sorted()
                } else {
                    names = try fm.contentsOfDirectory(atPath: p).sorted()
                }
                let found = names.filter(isTile).map { "\(p)/\($0)" }.filter { f in
                    var d: ObjCBool = false
                    return fm.fileExists(atPath: f, isDirectory: &d) && !d.boolValue
                }
                if found.isEmpty {
                    let hasSubfolders = names.contains { n in var d: ObjCBool = false; return fm.fileExists(atPath: "\(p)/\(n)", isDirectory: &d) && d.boolValue }
                    throw CommandFailure("\(p) holds no .city.json or .city.jsonl files" + (hasSubfolders && !recursive ? " (its subfolders are read with --recursive)" : ""))
                }
                out += found
            }
            return out
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tiles in the catalog.")
        @Flag(help: "JSON output.") var json = false
        @OptionGroup var options: CatalogOption

        func run() throws {
            let catalog = try Catalog(readingExisting: options.catalog, lockWait: max(0, options.wait))
            let tiles = try catalog.tiles()
            let counts = try catalog.buildingCounts()
            let listed = tiles.map { t in
                TileListing(tile: t.cleaned, buildings: counts[t.name]?.buildings ?? 0, parts: counts[t.name]?.parts ?? 0)
            }
            if json { print(try JSONText.encode(listed)); return }
            if tiles.isEmpty { print("no tiles; import some with `twinscene tiles import FILE`"); return }
            for l in listed {
                let t = l.tile
                let others = t.objectCount - l.buildings - l.parts
                print("\(t.name)  \(l.buildings) buildings, \(l.parts) parts, \(others) other objects  EPSG:\(t.epsg)  "
                      + "extent \(Coordinates.text(t.minX, t.minY)) - \(Coordinates.text(t.maxX, t.maxY))  from \(t.sourcePath)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one tile: its source, extent and objects by type.")
        @Argument(help: "Tile name (see tiles list).") var tile: String
        @Flag(help: "JSON output.") var json = false
        @OptionGroup var options: CatalogOption

        func run() throws {
            let catalog = try Catalog(readingExisting: options.catalog, lockWait: max(0, options.wait))
            guard let info = try catalog.tile(named: tile) else { throw CatalogError.unknownTile(tile) }
            let counts = try catalog.typeCounts(tile: tile)
            if json {
                struct Out: Encodable { var tile: TileInfo; var types: [String: Int] }
                print(try JSONText.encode(Out(tile: info.cleaned, types: counts)))
                return
            }
            print("\(info.name): \(info.objectCount) objects, EPSG:\(info.epsg), CityJSON \(info.sourceVersion)")
            print("  source  \(info.sourcePath) (sha256 \(info.sha256.prefix(16))...)")
            print("  extent  \(Coordinates.text(info.minX, info.minY)) - \(Coordinates.text(info.maxX, info.maxY))")
            for (type, n) in counts.sorted(by: { $0.key < $1.key }) { print("  \(type): \(n)") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a tile and its objects from the catalog.")
        @Argument var tile: String
        @OptionGroup var options: CatalogOption

        func run() throws {
            guard try Catalog(path: options.catalog, lockWait: max(0, options.wait)).remove(tile: tile) else { throw CatalogError.unknownTile(tile) }
            print("removed \(tile)")
        }
    }

    struct Query: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Objects whose extent touches a box (edges included): the R*Tree's candidates checked on their exact extents.")
        @Option(help: "MINX,MINY,MAXX,MAXY in the tiles' CRS.") var bbox: String
        @Option(help: "Most objects listed; the output says when there were more.") var limit = 1000
        @Flag(help: "JSON output: {objects, truncated, limit}.") var json = false
        @OptionGroup var options: CatalogOption

        func run() throws {
            let v = bbox.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 4, let minX = v[0], let minY = v[1], let maxX = v[2], let maxY = v[3],
                  [minX, minY, maxX, maxY].allSatisfy(\.isFinite), minX <= maxX, minY <= maxY else {
                throw ValidationError("--bbox needs four finite numbers MINX,MINY,MAXX,MAXY with min <= max")
            }
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
            let (found, truncated) = try Catalog(readingExisting: options.catalog, lockWait: max(0, options.wait))
                .query(Extent2D(minX: minX, minY: minY, maxX: maxX, maxY: maxY), limit: limit)
            let objects = found.map(\.cleaned)
            if json {
                struct Out: Encodable { var objects: [ObjectSummary]; var truncated: Bool; var limit: Int }
                print(try JSONText.encode(Out(objects: objects, truncated: truncated, limit: limit)))
                return
            }
            for o in objects {
                print("\(o.tile)  \(o.objectId)  \(o.type)  height \(o.height.map { String(format: "%.2f", $0) } ?? "-")  "
                      + "\(Coordinates.text(o.minX, o.minY)) - \(Coordinates.text(o.maxX, o.maxY))")
            }
            print(truncated ? "\(objects.count) objects shown; more touch the box (raise --limit to see them)" : "\(objects.count) objects")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic district (street grid, blocks, varied buildings) as CityJSONSeq (or CityJSON).")
        @Option(help: "Number of buildings.") var buildings = 100
        @Option(help: "Seed; the same seed writes the same file.") var seed: UInt64 = 1
        @Option(name: .shortAndLong, help: "Output file: FILE.city.jsonl (CityJSONSeq) or FILE.city.json (one CityJSON document).")
        var output: String

        func run() throws {
            let document = output.hasSuffix(".json")
            guard document || output.hasSuffix(".jsonl") else {
                throw ValidationError("name the output FILE.city.jsonl (CityJSONSeq) or FILE.city.json (CityJSON)")
            }
            guard buildings > 0 else { throw ValidationError("--buildings must be at least 1") }
            let gen = DistrictGenerator(buildings: buildings, seed: seed)
            let bytes = document ? try gen.writeDocument(to: output) : try gen.write(to: output)
            print("wrote \(output): \(buildings) buildings, \(String(format: "%.0f x %.0f m", gen.size.x, gen.size.y)), \(bytes) bytes")
        }
    }
}

/// A tile as `tiles list` shows it: buildings and their parts apart from other objects.
/// In JSON, the tile's own fields with `buildings` and `parts` beside them.
struct TileListing: Encodable {
    var tile: TileInfo
    var buildings: Int
    var parts: Int

    enum Keys: String, CodingKey { case buildings, parts }
    func encode(to encoder: any Encoder) throws {
        try tile.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(buildings, forKey: .buildings)
        try c.encode(parts, forKey: .parts)
    }
}

/// CRS coordinates as people read them: rounded to the micrometre, so that what a file
/// wrote as 85012.399 is not printed as 85012.39900000001.
enum Coordinates {
    static func clean(_ v: Double) -> Double { v.isFinite && abs(v) < 1e12 ? (v * 1e6).rounded() / 1e6 : v }
    static func text(_ x: Double, _ y: Double) -> String { "[\(clean(x)), \(clean(y))]" }
}

extension TileInfo {
    var cleaned: TileInfo {
        var t = self
        (t.minX, t.minY, t.maxX, t.maxY) = (Coordinates.clean(minX), Coordinates.clean(minY), Coordinates.clean(maxX), Coordinates.clean(maxY))
        return t
    }
}

extension ObjectSummary {
    var cleaned: ObjectSummary {
        var o = self
        (o.minX, o.minY, o.maxX, o.maxY) = (Coordinates.clean(minX), Coordinates.clean(minY), Coordinates.clean(maxX), Coordinates.clean(maxY))
        o.height = height.map { ($0 * 1e6).rounded() / 1e6 }
        return o
    }
}

enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}
