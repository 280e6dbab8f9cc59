import Foundation
import NIOCore
import NIOPosix
import SceneCore
import SceneWire
import Testing
@testable import SceneServer

/// SessionOutlet as scene runners use it: from several threads at once, over a real socket.
@Suite struct SessionOutletTests {
    /// Two runner threads send shared frames (head and tail written apart) to one connection;
    /// the peer, a plain POSIX socket, must read every frame whole and in each thread's order.
    @Test func framesFromTwoThreadsArriveWhole() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        listen(listener, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        let peer = accept(listener, nil, nil)
        try #require(peer >= 0)
        let outlet = SessionOutlet(channel: channel, id: 1, metrics: ServerMetrics())

        let perThread = 4000
        // Reads on its own thread while the senders run, so the socket never fills.
        let received = Task.detached { () -> [WireMessage] in
            var tv = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buffer = ByteBuffer()
            var out: [WireMessage] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            let decoder = WireFrameDecoder()
            while out.count < 2 * perThread {
                let n = chunk.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                buffer.writeBytes(chunk[0..<n])
                do {
                    while let frame = try decoder.next(&buffer) {
                        out.append(try WireMessage.decode(type: frame.type, payload: frame.payload))
                    }
                } catch { break }
                buffer.discardReadBytes()
            }
            return out
        }
        // Two threads of their own, released together, as two scenes' runners would be.
        let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0), done = DispatchGroup()
        for thread in 0..<2 {
            done.enter()
            Thread.detachNewThread {
                ready.signal()
                go.wait()
                for i in 0..<perThread {
                    let event = WireEvent(entity: UInt32(i), kind: UInt16(thread), value: Float(i))
                    let frame = SharedFrame(.events(subscription: 0, tick: UInt64(i), events: [event]))!
                    outlet.send(frame, subscription: UInt32(thread + 1))
                }
                done.leave()
            }
        }
        ready.wait(); ready.wait()
        go.signal(); go.signal()
        await offload { done.wait() }
        let messages = await received.value
        close(peer)
        try? await channel.close()
        try await group.shutdownGracefully()

        #expect(messages.count == 2 * perThread, "only \(messages.count) frames decoded whole")
        for thread in 0..<2 {
            let mine = messages.compactMap { m -> UInt64? in
                guard case .events(let sub, let tick, let events) = m, sub == UInt32(thread + 1) else { return nil }
                return events.first?.kind == UInt16(thread) ? tick : nil
            }
            let inOrder = mine == (0..<UInt64(perThread)).map { $0 }
            #expect(inOrder, "thread \(thread): \(mine.count) frames, not 0..<\(perThread) in order")
        }
    }
}

/// The area test of per-subscriber views in whole quanta decides exactly as a client's
/// `Double(qx) * quantum` comparison does, bounds landing on and between quanta included.
@Suite struct AreaQuantaTests {
    @Test func thresholdsInQuantaAgreeWithTheClientsTest() {
        var seeded = SeededGenerator(seed: 2026)
        for q in [0.01, 0.001, 0.05, 0.1, 0.3] {
            for _ in 0..<2_000 {
                // Bounds on exact multiples of the quantum (the hard case) and anywhere.
                let v = Double.random(in: 0..<1, using: &seeded) < 0.5 ? Double(Int(Double.random(in: 0..<1, using: &seeded) * 100_000) - 20_000) * q : (Double.random(in: 0..<1, using: &seeded) - 0.2) * 3_000
                let n = RunnerState.firstQuantum(atLeast: v, q)
                #expect(Double(n) * q >= v && Double(n - 1) * q < v, "q \(q), bound \(v): \(n)")
            }
        }
    }
}
