import Foundation
import NIOCore
import SceneWire
import Testing

/// The server under a low open-files limit, as a hostile crowd of connections meets it:
/// the excess gets Error 8, the process lives, and a client afterwards is served.
@Suite(.serialized) struct DescriptorLimitTests {
    static let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: prlimit != nil, "prlimit (util-linux) is absent"))
    func aFloodUnderALowLimitMeetsError8AndTheServerLives() throws {
        let dir = CommandLineTests.temp()
        let port = Int.random(in: 32_001...40_000)
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: Self.prlimit!)
        serve.currentDirectoryURL = CommandLineTests.root
        // 200 descriptors: 64 kept back, 8 for metrics, 128 for clients.
        serve.arguments = ["--nofile=200:200", CommandLineTests.binary.path, "serve", "--catalog", "\(dir)/c.sqlite",
                           "--port", "\(port)", "--no-http", "--scene", "district"]
        let log = Pipe()
        serve.standardError = log
        try serve.run()
        defer { serve.terminate(); serve.waitUntilExit() }
        // Wait (bounded) until the server answers.
        var up = false
        for _ in 0..<300 where !up {
            if let fd = Self.connect(port: port) { close(fd); up = true } else { usleep(100_000) }
        }
        try #require(up, "the server did not come up")
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var welcomed = 0, refused = 0, other: [String] = []
        for _ in 0..<170 {
            guard let fd = Self.connect(port: port) else { other.append("connect failed"); continue }
            sockets.append(fd)
            let hello = WireMessage.hello(minVersion: 1, maxVersion: 1, client: "flood").frame()
            _ = Array(hello.readableBytesView).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            switch Self.firstFrame(fd) {
            case .welcome?: welcomed += 1
            case .error(let code, _)? where code == ErrorCode.tooManyConnections.rawValue: refused += 1
            case let m: other.append("\(String(describing: m))")
            }
        }
        #expect(serve.isRunning, "the server lives")
        #expect(welcomed == 128, "welcomed \(welcomed), refused \(refused), other \(other.prefix(3))")
        #expect(refused == 170 - 128, "refused \(refused)")
        #expect(other.isEmpty, "\(other.prefix(3))")
        for fd in sockets { close(fd) }
        sockets.removeAll()
        // A client afterwards is served as usual.
        var r = CommandLineTests.Run(status: -1, out: "", err: "")
        for _ in 0..<50 where r.status != 0 {
            r = try CommandLineTests.runBlocking(["watch", "--port", "\(port)", "--json", "--frames", "3"])
            if r.status != 0 { usleep(200_000) }
        }
        #expect(r.status == 0, "\(r.err)")
        #expect(serve.isRunning)
    }

    /// GET over a blocking socket, everything until the server closes (10 s at most).
    static func get(port: Int, path: String) -> String {
        guard let fd = connect(port: port) else { return "" }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let start = Date()
        while Date().timeIntervalSince(start) < 10 {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 { close(fd); return nil }
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// The first whole message the server sends (nil on a timeout or a close before one).
    static func firstFrame(_ fd: Int32) -> WireMessage? {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            var b = ByteBuffer(bytes: bytes)
            if let frame = try? WireFrameDecoder().next(&b) { return try? WireMessage.decode(type: frame.type, payload: frame.payload) }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            bytes += buf[0..<n]
        }
        return nil
    }
}
