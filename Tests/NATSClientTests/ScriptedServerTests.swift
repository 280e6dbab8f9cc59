import Foundation
import NATSTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import NATSClient

/// A server that says what a test tells it to, on 127.0.0.1: for what a real nats-server
/// will not do on demand (stop answering PINGs, send garbage, refuse the CONNECT).
final class ScriptedServer: Sendable {
    enum Behaviour: Sendable {
        /// INFO, then PONG to the handshake's PING, then silence (keep-alive PINGs unanswered).
        case goesSilent
        /// INFO, the handshake's PONG, then bytes that are not the protocol.
        case sendsGarbage
        /// INFO, then -ERR 'Authorization Violation' and a close.
        case refusesConnect
        /// Nothing at all: no INFO.
        case neverGreets
    }

    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(_ behaviour: Behaviour) async throws {
        let box = CounterBox()
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                box.count.add(1, ordering: .relaxed)
                return ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Script(behaviour)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        counter = box
    }

    private let counter: CounterBox
    var accepted: Int { counter.count.load(ordering: .relaxed) }

    func stop() async { try? await channel.close() }

    final class CounterBox: Sendable { let count = Atomic<Int>(0) }

    final class Script: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: Behaviour
        private let answered = Atomic<Bool>(false)
        init(_ b: Behaviour) { behaviour = b }

        func channelActive(context: ChannelHandlerContext) {
            guard behaviour != .neverGreets else { return }
            let info = "INFO {\"server_id\":\"scripted\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: info)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            switch behaviour {
            case .refusesConnect:
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "-ERR 'Authorization Violation'\r\n"))).whenComplete { _ in channel.close(promise: nil) }
            case .goesSilent, .sendsGarbage:
                guard text.contains("PING"), !answered.exchange(true, ordering: .relaxed) else { return }
                var reply = "PONG\r\n"
                if behaviour == .sendsGarbage { reply += "HTTP/1.1 200 OK\r\n\r\n" }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply)), promise: nil)
            case .neverGreets:
                break
            }
        }
    }
}

@Suite struct ScriptedServerTests {
    static func options(_ s: ScriptedServer) -> NATSOptions {
        var o = NATSOptions(port: s.port, name: "scripted")
        o.connectTimeout = 30
        o.reconnectWait = 0.02
        o.reconnectWaitMax = 0.1
        return o
    }

    /// A server that stops answering is taken for dead after `maxPingsOut` keep-alive PINGs,
    /// and the client tries again (a new connection).
    @Test func aSilentServerIsDetectedByUnansweredPings() async throws {
        let s = try await ScriptedServer(.goesSilent)
        var o = Self.options(s)
        o.pingInterval = 0.1
        o.maxPingsOut = 2
        let c = try await NATSConnection.connect(o)
        let log = EventLog(c)
        #expect(await eventually(seconds: 120) { log.events.contains { if case .disconnected(let why) = $0 { why.contains("stale") } else { false } } },
                "\(log.events)")
        #expect(await eventually(seconds: 120) { s.accepted >= 2 }, "it reconnects")
        await c.close()
        await s.stop()
    }

    /// Bytes that are not the protocol end the connection with the reason; the client does
    /// not crash and tries again.
    @Test func garbageFromTheServerIsAProtocolViolation() async throws {
        let s = try await ScriptedServer(.sendsGarbage)
        let c = try await NATSConnection.connect(Self.options(s))
        let log = EventLog(c)
        #expect(await eventually(seconds: 120) { log.events.contains { if case .disconnected(let why) = $0 { why.contains("unknown operation") } else { false } } },
                "\(log.events)")
        #expect(await eventually(seconds: 120) { s.accepted >= 2 })
        await c.close()
        await s.stop()
    }

    /// A refused CONNECT, no INFO at all, nothing listening: `connect` throws a line that
    /// says why, within its timeout, and leaves nothing running.
    @Test func aRefusedOrSilentHandshakeThrows() async throws {
        let refusing = try await ScriptedServer(.refusesConnect)
        await #expect(throws: NATSError.serverError("Authorization Violation")) { _ = try await NATSConnection.connect(Self.options(refusing)) }
        #expect(refusing.accepted == 1, "a first connection that failed is not retried")
        await refusing.stop()

        let mute = try await ScriptedServer(.neverGreets)
        var o = Self.options(mute)
        o.connectTimeout = 0.5
        do {
            _ = try await NATSConnection.connect(o)
            Issue.record("connected to a server that never sent INFO")
        } catch let e as NATSError {
            guard case .timeout = e else { Issue.record("\(e)"); return }
        }
        await mute.stop()

        var nowhere = NATSOptions(port: 1)
        nowhere.connectTimeout = 2
        await #expect(throws: NATSError.self) { _ = try await NATSConnection.connect(nowhere) }
    }
}
