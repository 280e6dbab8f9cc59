import Foundation

/// Hosts of their own on one machine (`ip netns`): each host a network namespace with one
/// interface on a private /24, all joined by a bridge in a namespace of its own, and one more
/// interface in this process's namespace so that the test's clients reach the hosts. Nothing
/// listens outside the namespaces it made; `tearDown` removes them (and with them every
/// interface). Needs root and iproute2: `usable` says whether this machine lets a test do it.
final class NetworkNamespaces: @unchecked Sendable {
    let prefix: String
    /// The first three bytes of the /24, e.g. "10.213.7".
    let net: String
    private(set) var hosts: [String: String] = [:]
    private var children: [Process] = []
    private let tag: String

    /// The test that uses them was asked for (`TWINSCENE_NETNS=1`).
    static var requested: Bool { ProcessInfo.processInfo.environment["TWINSCENE_NETNS"] == "1" }

    static let usable: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: ip) else { return false }
        let name = "tsprobe\(getpid() % 100_000)"
        guard (try? run(["netns", "add", name])) != nil else { return false }
        _ = try? run(["netns", "del", name])
        return true
    }()

    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

    /// Runs `ip ARGS`; throws with its stderr when it fails.
    @discardableResult
    static func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw NamespaceError("ip \(args.joined(separator: " ")): \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        }
        return text
    }

    /// The switch and this process's way in; hosts are added with `add`.
    init() throws {
        let id = Int(getpid()) % 200 + Int.random(in: 0..<50)
        tag = "\(getpid() % 100_000)"
        prefix = "ts\(tag)"
        net = "10.213.\(id)"
        try Self.run(["netns", "add", "\(prefix)sw"])
        try Self.run(["-n", "\(prefix)sw", "link", "add", "br0", "type", "bridge"])
        try Self.run(["-n", "\(prefix)sw", "link", "set", "br0", "up"])
        // This process's end: the only interface added outside the namespaces.
        try Self.run(["link", "add", "\(prefix)r", "type", "veth", "peer", "name", "r", "netns", "\(prefix)sw"])
        try Self.run(["-n", "\(prefix)sw", "link", "set", "r", "master", "br0", "up"])
        try Self.run(["addr", "add", "\(net).1/24", "dev", "\(prefix)r"])
        try Self.run(["link", "set", "\(prefix)r", "up"])
    }

    /// A host named `name` at `net.N`; returns its address.
    @discardableResult
    func add(_ name: String, _ n: Int) throws -> String {
        let ns = "\(prefix)\(name)", address = "\(net).\(n)"
        try Self.run(["netns", "add", ns])
        try Self.run(["link", "add", "\(prefix)h\(n)", "type", "veth", "peer", "name", "eth0", "netns", ns])
        try Self.run(["link", "set", "\(prefix)h\(n)", "netns", "\(prefix)sw"])
        try Self.run(["-n", "\(prefix)sw", "link", "set", "\(prefix)h\(n)", "master", "br0", "up"])
        try Self.run(["-n", ns, "addr", "add", "\(address)/24", "dev", "eth0"])
        try Self.run(["-n", ns, "link", "set", "eth0", "up"])
        try Self.run(["-n", ns, "link", "set", "lo", "up"])
        hosts[name] = address
        return address
    }

    /// Starts `executable ARGS` on host `name`, its output to `log`.
    func start(on name: String, _ executable: String, _ args: [String], log: String, directory: URL? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.ip)
        p.arguments = ["netns", "exec", "\(prefix)\(name)", executable] + args
        if let directory { p.currentDirectoryURL = directory }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = p.standardOutput
        try p.run()
        children.append(p)
        return p
    }

    /// Whether something accepts TCP at `address:port` within 300 ms (tried from this
    /// process's namespace; never blocks longer, whatever the network does).
    static func accepts(_ address: String, _ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(address)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 300) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }

    /// Stops every process started here and removes the namespaces and this process's interface.
    func tearDown() {
        for p in children where p.isRunning { p.terminate() }
        for p in children {
            let deadline = Date().addingTimeInterval(5)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        children.removeAll()
        for name in hosts.keys { _ = try? Self.run(["netns", "del", "\(prefix)\(name)"]) }
        _ = try? Self.run(["link", "del", "\(prefix)r"])
        _ = try? Self.run(["netns", "del", "\(prefix)sw"])
        hosts.removeAll()
    }
}

struct NamespaceError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
