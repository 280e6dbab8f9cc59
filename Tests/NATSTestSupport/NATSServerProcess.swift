import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A real `nats-server` (Debian's 2.9) on 127.0.0.1, on a port of its own, for one test:
/// started, stopped and started again on the same port (the reconnect tests), with its
/// monitoring endpoint for what the server itself says. `.ci/run` installs it and sets
/// TWINSCENE_REQUIRE_TOOLS=1, so there the tests cannot skip.
public final class NATSServerProcess: @unchecked Sendable {
    public static let binary: String? = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    public static var available: Bool { binary != nil }
    public static var required: Bool { ProcessInfo.processInfo.environment["TWINSCENE_REQUIRE_TOOLS"] == "1" }

    public let port: Int
    public let monitorPort: Int
    public let config: String?
    private var process: Process?
    private let dir: String

    /// Starts a server; `config` is a configuration file's text (max_payload ...).
    public init(config: String? = nil) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.config = config
        var started: (Process, Int)?
        for _ in 0..<10 where started == nil {
            let p = Int.random(in: 20_000...29_000)
            if let process = try Self.start(binary: Self.binary!, port: p, monitor: p + 1000, config: config, dir: dir) { started = (process, p) }
        }
        guard let started else { throw NATSTestError("nats-server did not start (10 ports tried)") }
        process = started.0
        port = started.1
        monitorPort = started.1 + 1000
    }

    private static func start(binary: String, port: Int, monitor: Int, config: String?, dir: String) throws -> Process? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        var args = ["-a", "127.0.0.1", "-p", "\(port)", "-m", "\(monitor)"]
        // The server closes a client that has not sent CONNECT within its authorization
        // timeout (about a second by default); a full test run on two cores can hold a
        // client's event loop longer than that, so tests allow 30 s.
        let file = dir + "/nats.conf"
        try ("authorization {\n  timeout: 30\n}\n" + (config ?? "")).write(toFile: file, atomically: true, encoding: .utf8)
        args += ["-c", file]
        p.arguments = args
        // Its output to a file, never a pipe of the test process (which a child could hold open).
        let log = dir + "/nats-\(port).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = p.standardOutput
        try p.run()
        for _ in 0..<100 {
            if !p.isRunning { return nil }
            if canConnect(port: port) { return p }
            usleep(50_000)
        }
        p.terminate()
        p.waitUntilExit()
        return nil
    }

    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    /// Stops the server (SIGKILL: as a crash, no goodbye to its clients).
    public func kill() {
        guard let p = process, p.isRunning else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// Starts it again on the same ports.
    public func restart() throws {
        kill()
        for _ in 0..<40 {
            if let p = try Self.start(binary: Self.binary!, port: port, monitor: monitorPort, config: config, dir: dir) { process = p; return }
            usleep(100_000)
        }
        throw NATSTestError("nats-server did not start again on port \(port)")
    }

    /// A monitoring endpoint's JSON (`varz`, `connz?subs=1` ...), read over a plain socket.
    public func monitor(_ path: String) async throws -> [String: Any] {
        let text = await httpGet(port: monitorPort, path: "/" + path)
        guard let start = text.range(of: "\r\n\r\n"),
              let json = try JSONSerialization.jsonObject(with: Data(text[start.upperBound...].utf8)) as? [String: Any] else {
            throw NATSTestError("no JSON from \(path): \(text.prefix(200))")
        }
        return json
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

public struct NATSTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// An HTTP GET over a NIO connection, everything until the server closes (at most 30 s).
public func httpGet(port: Int, path: String) async -> String {
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let b = unwrapInboundIn(data)
            bytes.withLock { $0 += b.readableBytesView }
        }
    }
    let collector = Collector()
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).channelInitializer { ch in
        ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) }
    }
    guard let channel = try? await bootstrap.connect(host: "127.0.0.1", port: port).get() else { return "" }
    channel.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), promise: nil)
    let timeout = channel.eventLoop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
    try? await channel.closeFuture.get()
    timeout.cancel()
    return String(decoding: collector.bytes.withLock { $0 }, as: UTF8.self)
}

/// Waits (polling, bounded) until `condition` holds; returns whether it did.
public func eventually(seconds: Double = 120, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return try await condition()
}
