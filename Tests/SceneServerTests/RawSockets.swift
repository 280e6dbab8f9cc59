import Foundation
import NIOCore
import NIOPosix
import Testing

// Blocking POSIX sockets for tests that want to be independent of the server's NIO code.
// In a file of their own with few imports: with MemberImportVisibility, `sockaddr_in`'s
// members are attributed to whichever C module a file's imports bring in first, and the
// long import list of the operations tests made that one no test may import.

/// Fetches over a POSIX socket (simple and independent of the server's NIO code).
func rawGetBlocking(port: Int, path: String) -> String {
    guard let fd = connectLoopback(port: port) else { return "" }
    defer { close(fd) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// A bare TCP connection (no handshake), for protocol-level tests.
func rawConnect(port: Int) async throws -> Int32 {
    try #require(connectLoopback(port: port))
}

/// A blocking TCP socket connected to 127.0.0.1:port, nil when the connection fails.
func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if rc != 0 { close(fd); return nil }
    return fd
}

/// Reads until the peer closes or `seconds` pass (on a Dispatch thread), then closes `fd`:
/// the caller must not close it again (a second close can hit a descriptor the server's
/// event loop has been given meanwhile).
func readAllAndClose(_ fd: Int32, seconds: Double) async throws -> [UInt8] {
    await offload { readAllAndCloseBlocking(fd, seconds: seconds) }
}

func readAllAndCloseBlocking(_ fd: Int32, seconds: Double) -> [UInt8] {
    var tv = timeval(tv_sec: Int(seconds), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    close(fd)
    return out
}
