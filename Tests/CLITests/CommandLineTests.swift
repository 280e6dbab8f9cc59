import Foundation
import Synchronization
import Testing

/// The `twinscene` executable as a newcomer meets it: bad input is one clear line and a
/// non-zero exit, never a stack trace.
@Suite(.serialized) struct CommandLineTests {
    static let binary: URL = {
        // The test bundle sits in the build folder beside the executable.
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("twinscene")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/twinscene")
    }()
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Run { var status: Int32; var out: String; var err: String }

    /// Runs the executable off the cooperative pool (a test blocking one of its two threads
    /// for the command's length stalls every async test of the process).
    static func run(_ args: [String], timeout: Double = 60) async throws -> Run {
        try await offThePool { try runBlocking(args, timeout: timeout) }
    }

    static func runBlocking(_ args: [String], timeout: Double = 60) throws -> Run {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = root
        // Both pipes are read while the command runs: one that writes more than a pipe holds
        // would otherwise block on it until the timeout.
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let outData = PipeReader(out.fileHandleForReading), errData = PipeReader(err.fileHandleForReading)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: String(decoding: outData.wait(), as: UTF8.self),
                   err: String(decoding: errData.wait(), as: UTF8.self))
    }

    /// A fresh folder in this test process's scratch folder (removed when the process exits).
    static func temp() -> String {
        let dir = cliScratchRoot.appendingPathComponent(UUID().uuidString)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    func expectOneLineError(_ r: Run, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status != 0, sourceLocation: sourceLocation)
        #expect(r.err.contains(mentions), "stderr: \(r.err)", sourceLocation: sourceLocation)
        #expect(!r.err.contains("Fatal error") && !r.err.contains("backtrace"), sourceLocation: sourceLocation)
    }

    @Test func helpOnEverySubcommand() async throws {
        for args in [["--help"], ["serve", "--help"], ["gateway", "--help"], ["watch", "--help"], ["bench", "--help"], ["tiles", "import", "--help"],
                     ["tiles", "list", "--help"], ["tiles", "generate", "--help"], ["scenes", "validate", "--help"]] {
            let r = try await Self.run(args)
            #expect(r.status == 0, "\(args)")
            #expect(r.out.contains("USAGE"), "\(args)")
        }
    }

    @Test func serveRefusesAMissingSceneAndAnUnusableCatalog() async throws {
        let dir = Self.temp()
        expectOneLineError(try await Self.run(["serve", "--catalog", "\(dir)/c.sqlite", "--scene", "nowhere", "--port", "0"]), mentions: "no scene named 'nowhere'")
        expectOneLineError(try await Self.run(["serve", "--catalog", "\(dir)/c.sqlite", "--scene", "\(dir)/missing.scene.json", "--port", "0"]),
                           mentions: "no scene file at")
        expectOneLineError(try await Self.run(["serve", "--catalog", "\(dir)/no/such/dir/c.sqlite", "--port", "0"]), mentions: "cannot open the catalog")
        try "not a database at all, just text".write(toFile: "\(dir)/bad.sqlite", atomically: true, encoding: .utf8)
        expectOneLineError(try await Self.run(["serve", "--catalog", "\(dir)/bad.sqlite", "--port", "0"]), mentions: "cannot open the catalog")
    }

    @Test func serveRefusesAPortInUse() async throws {
        // Hold a port with a plain listening socket.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let dir = Self.temp()
        expectOneLineError(try await Self.run(["serve", "--catalog", "\(dir)/c.sqlite", "--port", "\(port)"]), mentions: "already in use")
    }

    /// The scale-out's bad input: a NATS address that is not one, a NATS server not there.
    @Test func gatewayAndServeRefuseABadOrAbsentNATS() async throws {
        expectOneLineError(try await Self.run(["gateway", "--nats", "nats://127.0.0.1:99999"]), mentions: "--nats: cannot connect to NATS: 'nats://127.0.0.1:99999' is not nats://HOST:PORT")
        expectOneLineError(try await Self.run(["gateway", "--nats", "nats://user@127.0.0.1:4222"]), mentions: "no user, no path")
        expectOneLineError(try await Self.run(["gateway", "--nats", "127.0.0.1:1", "--port", "0", "--no-http"]), mentions: "cannot connect to NATS: 127.0.0.1:1")
        let dir = Self.temp()
        expectOneLineError(try await Self.run(["serve", "--catalog", "\(dir)/c.sqlite", "--scene", "factory", "--port", "0", "--no-http", "--nats", "127.0.0.1:1"]),
                           mentions: "the scenes' feed has no NATS server: cannot connect to NATS: 127.0.0.1:1")
    }

    @Test func watchAgainstNothingListening() async throws {
        expectOneLineError(try await Self.run(["watch", "--port", "1"]), mentions: "cannot connect to 127.0.0.1:1")
    }

    @Test func tilesImportListAndRefuse() async throws {
        let dir = Self.temp()
        let cat = "\(dir)/c.sqlite"
        let gen = try await Self.run(["tiles", "generate", "--buildings", "30", "--seed", "4", "-o", "\(dir)/g.city.jsonl"])
        #expect(gen.status == 0)
        let imp = try await Self.run(["tiles", "import", "\(dir)/g.city.jsonl", "--catalog", cat])
        #expect(imp.status == 0)
        #expect(imp.out.contains("imported g: 30 objects"))
        let again = try await Self.run(["tiles", "import", "\(dir)/g.city.jsonl", "--catalog", cat])
        #expect(again.out.contains("unchanged g"))
        try "{\"type\":\"CityJSON\",".write(toFile: "\(dir)/broken.city.json", atomically: true, encoding: .utf8)
        expectOneLineError(try await Self.run(["tiles", "import", "\(dir)/broken.city.json", "--catalog", cat]), mentions: "broken.city.json")
        let list = try await Self.run(["tiles", "list", "--json", "--catalog", cat])
        let tiles = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]]
        #expect(tiles?.map { $0["name"] as? String } == ["g"])
        let query = try await Self.run(["tiles", "query", "--bbox", "85000,446000,85100,446100", "--json", "--catalog", cat])
        #expect(query.status == 0)
        let answer = try JSONSerialization.jsonObject(with: Data(query.out.utf8)) as? [String: Any]
        #expect((answer?["objects"] as? [Any])?.isEmpty == false)
        #expect(answer?["truncated"] as? Bool == false)
    }

    @Test func aFolderImportRefusesTwoFilesClaimingOneTileAndSumsUp() async throws {
        let dir = Self.temp()
        let tiles = "\(dir)/tiles"
        try FileManager.default.createDirectory(atPath: tiles, withIntermediateDirectories: true)
        _ = try await Self.run(["tiles", "generate", "--buildings", "8", "--seed", "1", "-o", "\(tiles)/a.city.jsonl"])
        _ = try await Self.run(["tiles", "generate", "--buildings", "9", "--seed", "2", "-o", "\(tiles)/a.city.json"])
        _ = try await Self.run(["tiles", "generate", "--buildings", "10", "--seed", "3", "-o", "\(tiles)/b.city.jsonl"])
        let r = try await Self.run(["tiles", "import", tiles, "--catalog", "\(dir)/c.sqlite"])
        #expect(r.status == 1)
        // Files are taken in name order: a.city.json first, then a.city.jsonl is refused.
        #expect(r.err.contains("refused \(tiles)/a.city.jsonl: it would be tile 'a', which \(tiles)/a.city.json is in this import"), "\(r.err)")
        #expect(r.out.contains("3 files: 2 imported, 0 replaced, 0 unchanged, 1 refused; 19 objects"), "\(r.out)")
        let list = try await Self.run(["tiles", "list", "--json", "--catalog", "\(dir)/c.sqlite"])
        let names = (try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["a", "b"])
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: root.deletingLastPathComponent().appendingPathComponent("shared/data").path)))
    func tilesImportTheSharedDelftSubset() async throws {
        let dir = Self.temp()
        let r = try await Self.run(["tiles", "import", "../shared/data/cityjson/3dbag_delft_subset.city.jsonl", "--catalog", "\(dir)/c.sqlite"])
        #expect(r.status == 0, "\(r.err)")
        let list = try await Self.run(["tiles", "list", "--catalog", "\(dir)/c.sqlite"])
        // 3D BAG: each building a LoD 0 footprint with its one part (the solids).
        #expect(list.out.contains("3dbag_delft_subset  10 buildings, 10 parts, 0 other objects  EPSG:7415"), "\(list.out)")
    }

    @Test func serveThenWatchJSONExitsAfterNFrames() async throws {
        let dir = Self.temp()
        let port = Int.random(in: 20_000...32_000)
        let serve = Process()
        serve.executableURL = Self.binary
        serve.currentDirectoryURL = Self.root
        serve.arguments = ["serve", "--catalog", "\(dir)/c.sqlite", "--port", "\(port)", "--http-port", "0", "--scene", "district"]
        serve.standardError = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: "\(dir)/out.txt", contents: nil)
        serve.standardOutput = FileHandle(forWritingAtPath: "\(dir)/out.txt")
        try serve.run()
        defer { serve.terminate(); serve.waitUntilExit() }
        // The viewer's address, printed once the HTTP side listens, and the page behind it.
        var printed = ""
        for _ in 0..<300 where !printed.contains("open http://") {
            try await Task.sleep(nanoseconds: 100_000_000)
            printed = (try? String(contentsOfFile: "\(dir)/out.txt", encoding: .utf8)) ?? ""
        }
        let address = printed.split(separator: " ").first { $0.hasPrefix("http://127.0.0.1:") }
        let httpPort = address.flatMap { Int($0.dropFirst("http://127.0.0.1:".count).dropLast()) }
        #expect(printed.hasPrefix("open http://127.0.0.1:") && httpPort != nil, "\(printed)")
        if let httpPort {
            let page = DescriptorLimitTests.get(port: httpPort, path: "/")
            #expect(page.hasPrefix("HTTP/1.1 200") && page.contains("<html"), "\(page.prefix(200))")
        }
        var r = Run(status: -1, out: "", err: "")
        for _ in 0..<100 {
            r = try await Self.run(["watch", "--port", "\(port)", "--json", "--frames", "5"])
            if r.status == 0 { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 5)
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == 5)
        #expect(objects.allSatisfy { ($0["entities"] as? Int) == 2000 && ($0["bytes"] as? Int ?? 0) > 0 })
        let ticks = objects.compactMap { $0["tick"] as? Int }
        #expect(zip(ticks, ticks.dropFirst()).allSatisfy { $1 == $0 + 1 })
        // A line per second, and a last one when --frames ends the watch before a second passed.
        let line = try await Self.run(["watch", "--port", "\(port)", "--frames", "3"])
        #expect(line.status == 0, "\(line.err)")
        #expect(line.out.hasPrefix("district tick ") && line.out.contains("entities 2000") && line.out.contains("B/entity/tick"), "\(line.out)")
        // --also: the first address refuses (nothing listens on port 1), the next serves.
        let also = try await Self.run(["watch", "--port", "1", "--also", "127.0.0.1:\(port)", "--scene", "district", "--json", "--frames", "5"])
        #expect(also.status == 0, "\(also.err)")
        #expect(also.out.split(separator: "\n").count == 5 && also.err.contains("connected to 127.0.0.1:\(port)"), "\(also.out) \(also.err)")
        expectOneLineError(try await Self.run(["watch", "--also", "127.0.0.1:\(port)"]), mentions: "--also needs --scene")
        expectOneLineError(try await Self.run(["watch", "--also", "nowhere", "--scene", "district"]), mentions: "expected HOST:PORT")
        // Positions: every entity of every frame with who it is (version 2) and where.
        let pos = try await Self.run(["watch", "--port", "\(port)", "--positions", "--json", "--frames", "2"])
        #expect(pos.status == 0, "\(pos.err)")
        let frames = pos.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(frames.count == 2)
        for f in frames {
            let entities = f["entities"] as? [[String: Any]] ?? []
            #expect(entities.count == 2000)
            #expect(entities.allSatisfy { e in
                // Passers-by are anonymous: no key, no label.
                e["key"] as? String == "" && e["label"] as? String == "" && e["kind"] as? String == "pedestrian"
                    && (e["x"] as? Double).map { $0 >= 0 && $0 <= 576 } == true && (e["y"] as? Double).map { $0 >= 0 && $0 <= 336 } == true
                    && e["z"] is NSNull
            })
        }
        let table = try await Self.run(["watch", "--port", "\(port)", "--positions", "--frames", "1"])
        let rows = table.out.split(separator: "\n")
        #expect(rows.first?.hasPrefix("tick ") == true && rows.first?.hasSuffix("entities 2000") == true, "\(rows.first ?? "")")
        #expect(rows.count == 2002 && rows.dropFirst(2).allSatisfy { $0.contains(" pedestrian ") })
        serve.interrupt()   // Ctrl-C: a clean stop
        serve.waitUntilExit()
        #expect(serve.terminationStatus == 0)
    }
}

/// Runs blocking work (a child process waited for, a pipe read to its end) on a Dispatch
/// thread: a test blocking one of the cooperative pool's few threads for minutes stalls every
/// async test of the process (their servers' responders included).
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        // A thread of its own, not Dispatch's global queue: that queue has about as many
        // threads as cores, and tests that block one for minutes (a browser run, a command's
        // wait) left the others queued behind them for minutes on a 2-core machine.
        let t = Thread { c.resume(with: Result { try body() }) }
        t.stackSize = 8 << 20
        t.start()
    }
}

/// Reads a pipe on a thread of its own while the command runs. It stops at the end of the
/// pipe, or once the command has exited and nothing came for 100 ms: a child of another
/// test may have inherited the pipe's write end and keep it open. The handle stays open
/// until the thread is done with it.
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    private let exited = Atomic<Bool>(false)
    private let handle: FileHandle

    init(_ handle: FileHandle) {
        self.handle = handle
        Thread.detachNewThread { [self] in
            let fd = self.handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 100) > 0 {
                    let n = read(fd, &buffer, buffer.count)
                    if n <= 0 { break }
                    data.append(contentsOf: buffer[0..<n])
                } else if exited.load(ordering: .acquiring) {
                    break
                }
            }
            done.signal()
        }
    }

    /// The output, once the command has exited (call it then).
    func wait() -> Data {
        exited.store(true, ordering: .releasing)
        done.wait()
        return data
    }
}

@Suite(.serialized) struct KilledImportTests {
    @Test func anImportKilledHalfWayLeavesTheCatalogAsBefore() async throws {
        let dir = CommandLineTests.temp()
        let cat = "\(dir)/c.sqlite"
        _ = try await CommandLineTests.run(["tiles", "generate", "--buildings", "20", "--seed", "1", "-o", "\(dir)/small.city.jsonl"])
        #expect(try await CommandLineTests.run(["tiles", "import", "\(dir)/small.city.jsonl", "--catalog", cat]).status == 0)
        let before = try await CommandLineTests.run(["tiles", "list", "--json", "--catalog", cat]).out
        _ = try await CommandLineTests.run(["tiles", "generate", "--buildings", "60000", "--seed", "2", "-o", "\(dir)/big.city.jsonl"])
        // Start a long import and kill it (SIGKILL: no clean-up of any kind) while it runs.
        let p = Process()
        p.executableURL = CommandLineTests.binary
        p.arguments = ["tiles", "import", "\(dir)/big.city.jsonl", "--catalog", cat]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        try await Task.sleep(nanoseconds: 700_000_000)
        let stillRunning = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(stillRunning, "the import should still have been running when killed")
        let after = try await CommandLineTests.run(["tiles", "list", "--json", "--catalog", cat])
        #expect(after.status == 0)
        #expect(after.out == before, "the killed import left nothing behind")
        // And the catalog still takes imports.
        #expect(try await CommandLineTests.run(["tiles", "import", "\(dir)/small.city.jsonl", "--catalog", cat]).out.contains("unchanged small"))
    }
}

@Suite struct ScenesCommandTests {
    @Test func validateLoadsTheSceneAndNamesTheJSONPathOfAProblem() async throws {
        let ok = try await CommandLineTests.run(["scenes", "validate", "Scenes/marathon.scene.json"])
        #expect(ok.status == 0)
        #expect(ok.out.contains("valid (marathon"))
        let dir = CommandLineTests.temp()
        var m = try JSONSerialization.jsonObject(with: Data(contentsOf: CommandLineTests.root.appendingPathComponent("Scenes/marathon.scene.json"))) as! [String: Any]
        var route = m["route"] as! [[Double]]
        route[2] = [85060, 446050]   // inside a building block
        m["route"] = route
        m["tiles"] = [CommandLineTests.root.appendingPathComponent("Scenes/tiles/district.city.jsonl").path]
        try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: "\(dir)/bad.scene.json"))
        let bad = try await CommandLineTests.run(["scenes", "validate", "\(dir)/bad.scene.json"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("$.route[1]") && bad.err.contains("passes through a building"))
        try #"{"name":"x","scenario":"rugby","bounds":[0,0,1,1]}"#.write(toFile: "\(dir)/unknown.scene.json", atomically: true, encoding: .utf8)
        let unknown = try await CommandLineTests.run(["scenes", "validate", "\(dir)/unknown.scene.json"])
        #expect(unknown.err.contains("$.scenario") && unknown.err.contains("unknown scenario \"rugby\""))
        let list = try await CommandLineTests.run(["scenes", "list"])
        #expect(list.out.contains("marathon") && list.out.contains("factory") && list.out.contains("football-live"))
    }
}

@Suite struct ReadOnlyCatalogTests {
    @Test(arguments: [["tiles", "list"], ["tiles", "show", "district"], ["tiles", "query", "--bbox", "0,0,1,1"]])
    func readingCommandsNeverCreateACatalog(command: [String]) async throws {
        let dir = CommandLineTests.temp()
        let typo = "\(dir)/catalgo.sqlite"
        let r = try await CommandLineTests.run(command + ["--catalog", typo])
        #expect(r.status != 0)
        #expect(r.err.contains(typo) && r.err.contains("there is no catalog there"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: typo), "\(command) created \(typo)")
    }

    @Test func anExistingCatalogIsReadWithoutChangingIt() async throws {
        let dir = CommandLineTests.temp()
        let cat = "\(dir)/c.sqlite"
        let imported = try await CommandLineTests.run(["tiles", "import", "Scenes/tiles/district.city.jsonl", "--catalog", cat])
        #expect(imported.status == 0, "\(imported.err)")
        let before = try FileManager.default.attributesOfItem(atPath: cat)[.modificationDate] as? Date
        let list = try await CommandLineTests.run(["tiles", "list", "--catalog", cat])
        #expect(list.status == 0 && list.out.contains("district"), "\(list.err)")
        let after = try FileManager.default.attributesOfItem(atPath: cat)[.modificationDate] as? Date
        #expect(before == after, "listing wrote to the catalog")
    }
}

@Suite struct FolderImportTests {
    @Test func foldersRecurseOnRequestMatchSuffixesInAnyCaseAndAnEmptyOneIsAnError() async throws {
        let dir = CommandLineTests.temp()
        let cat = "\(dir)/c.sqlite"
        let empty = "\(dir)/empty"
        try FileManager.default.createDirectory(atPath: "\(empty)/deeper", withIntermediateDirectories: true)
        let none = try await CommandLineTests.run(["tiles", "import", empty, "--catalog", cat])
        #expect(none.status != 0 && none.err.contains("holds no .city.json or .city.jsonl files") && none.err.contains("--recursive"), "\(none.err)")
        #expect(!FileManager.default.fileExists(atPath: cat), "a refused folder created the catalog")
        // One tile at the top (upper-case suffix), one in a subfolder.
        let tiles = "\(dir)/tiles"
        try FileManager.default.createDirectory(atPath: "\(tiles)/north", withIntermediateDirectories: true)
        #expect(try await CommandLineTests.run(["tiles", "generate", "--buildings", "6", "--seed", "1", "-o", "\(tiles)/a.city.jsonl"]).status == 0)
        try FileManager.default.moveItem(atPath: "\(tiles)/a.city.jsonl", toPath: "\(tiles)/a.CITY.JSONL")
        #expect(try await CommandLineTests.run(["tiles", "generate", "--buildings", "6", "--seed", "2", "-o", "\(tiles)/north/b.city.jsonl"]).status == 0)
        let flat = try await CommandLineTests.run(["tiles", "import", tiles, "--catalog", cat, "--json"])
        #expect(flat.status == 0, "\(flat.err)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(flat.out.utf8)) as? [String: Any])
        #expect(summary["imported"] as? Int == 1 && summary["refused"] as? Int == 0, "\(flat.out)")
        #expect((summary["files"] as? [[String: Any]])?.first?["file"] as? String == "\(tiles)/a.CITY.JSONL")
        let deep = try await CommandLineTests.run(["tiles", "import", tiles, "--recursive", "--catalog", cat, "--json"])
        let again = try #require(try JSONSerialization.jsonObject(with: Data(deep.out.utf8)) as? [String: Any])
        #expect(again["imported"] as? Int == 1 && again["unchanged"] as? Int == 1, "\(deep.out)")
        #expect(again["objects"] as? Int == 12)
    }
}

/// This test process's scratch folder for the command line's tests, removed at exit.
let cliScratchRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-cli-\(getpid())-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: cliScratchRoot) }
    return url
}()
