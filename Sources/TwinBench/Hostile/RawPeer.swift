import Foundation
import NIOCore
import SceneWire

/// A blocking TCP peer on loopback for the hostile suite: raw bytes in, frames out. Every
/// read has a timeout, so no attack can hang the run.
struct RawPeer {
    let fd: Int32

    static func connect(port: Int, timeout: Int = 10, receiveBuffer: Int32? = nil) -> RawPeer? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        if var size = receiveBuffer {
            // Before connecting, so the window the peer is offered stays this small.
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 { close(fd); return nil }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return RawPeer(fd: fd)
    }

    /// Sends everything it can; false once the peer refuses more (closed, or the timeout).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var at = 0
        while at < bytes.count {
            let n = bytes[at...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            at += n
        }
        return true
    }

    func send(_ message: WireMessage) -> Bool { send(Array(message.frame().readableBytesView)) }

    func hello(_ name: String = "hostile") -> Bool { send(.hello(minVersion: 1, maxVersion: 1, client: name)) }

    /// Messages until an Error, the end of the stream, `limit` messages, or a read timeout.
    func read(limit: Int = 1 << 20, until stop: (WireMessage) -> Bool = { if case .error = $0 { return true } else { return false } }) -> (messages: [WireMessage], closed: Bool) {
        var buffer = ByteBuffer()
        var out: [WireMessage] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            while let frame = try? WireFrameDecoder().next(&buffer) {
                guard let m = try? WireMessage.decode(type: frame.type, payload: frame.payload) else { return (out, false) }
                out.append(m)
                if stop(m) { return (out, false) }
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (out, true) }
            if n < 0 { return (out, false) }
            buffer.writeBytes(chunk[0..<n])
            buffer.discardReadBytes()
        }
        return (out, false)
    }

    /// The code of the first Error the server sends (nil if none came before a close or timeout).
    func errorCode() -> UInt16? {
        for m in read().messages { if case .error(let code, _) = m { return code } }
        return nil
    }

    func shut() { close(fd) }
}
