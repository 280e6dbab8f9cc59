import Logging
import NIOCore
import NIOEmbedded
import SceneWire
import Testing
@testable import SceneServer

/// ClientSession's protocol rules on an `EmbeddedChannel`: no sockets, no real timeouts (the
/// embedded loop's clock is advanced by hand).
@Suite struct ClientSessionTests {
    static func channel(configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> EmbeddedChannel {
        var config = ServerConfiguration()
        config.handshakeTimeout = 5
        config.idleTimeout = 60
        configure(&config)
        let registry = ServerRegistry(runners: [], catalog: nil, metrics: ServerMetrics(), maxServerFrameBytes: 1 << 20)
        _ = registry.transition(from: .starting, to: .running)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFrameDecoder(maxFrameBytes: config.maxClientFrameBytes)))
        try channel.pipeline.syncOperations.addHandler(WireMessageCodec(maxFrameBytes: config.maxClientFrameBytes))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        try channel.pipeline.syncOperations.addHandler(ClientSession(registry: registry, configuration: config, logger: logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    /// Every message the session wrote, decoded.
    static func written(_ channel: EmbeddedChannel) throws -> [WireMessage] {
        var out: [WireMessage] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while let frame = try WireFrameDecoder().next(&buffer) {
                out.append(try WireMessage.decode(type: frame.type, payload: frame.payload))
            }
        }
        return out
    }

    static func send(_ channel: EmbeddedChannel, _ message: WireMessage) throws {
        try channel.writeInbound(message.frame())
    }

    static let hello = WireMessage.hello(minVersion: 1, maxVersion: 1, client: "t")
    static let helloV2 = WireMessage.hello(minVersion: 1, maxVersion: 2, client: "t")

    @Test(arguments: [
        ([WireMessage.listScenes], ErrorCode.unexpectedMessage),                       // before Hello
        ([hello, hello], .unexpectedMessage),                                            // Hello twice
        ([.hello(minVersion: 7, maxVersion: 9, client: "t")], .versionUnsupported),
        ([hello, .subscribe(subscription: 1, scene: "nowhere", area: nil)], .unknownScene),
        ([hello, .unsubscribe(subscription: 4)], .unknownSubscription),
        ([hello, .moveArea(subscription: 4, area: nil)], .unknownSubscription),
        ([hello, .control(token: "x", scene: "s", command: .pause)], .unauthorized),      // no token configured
        ([hello, .goodbye(reason: "bye")], .unexpectedMessage),                          // a server-to-client message
        // Version 2's messages: a v1 session may not send them, a v2 one not v1's MoveArea;
        // a move needs its subscription; a client does not send what servers send.
        ([hello, .moveAreaRequest(subscription: 1, request: 1, area: nil)], .unexpectedMessage),
        ([helloV2, .moveArea(subscription: 1, area: nil)], .unexpectedMessage),
        ([helloV2, .moveAreaRequest(subscription: 4, request: 9, area: nil)], .unknownSubscription),
        ([helloV2, .areaMoved(subscription: 1, request: 1, tick: 1)], .unexpectedMessage),
        ([helloV2, .entityInfo(subscription: 1, entities: [])], .unexpectedMessage),
    ])
    func protocolRulesCloseTheClientWithTheirCode(messages: [WireMessage], code: ErrorCode) throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        for m in messages { try Self.send(channel, m) }
        let out = try Self.written(channel)
        guard case .error(let got, let text)? = out.last else { Issue.record("no Error, got \(out)"); return }
        #expect(got == code.rawValue, "\(text)")
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))   // past the lingering close
        #expect(!channel.isActive, "the client is closed after the Error")
    }

    @Test(arguments: [(UInt16(1), UInt16(1)), (1, 2), (2, 2), (2, 3), (1, 9)])
    func helloGetsTheHighestVersionBothSpeak(minVersion: UInt16, maxVersion: UInt16) throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try Self.send(channel, .hello(minVersion: minVersion, maxVersion: maxVersion, client: "t"))
        guard case .welcome(let version, _, _, _)? = try Self.written(channel).first else { Issue.record("no Welcome"); return }
        #expect(version == min(maxVersion, WireProtocol.version))
    }

    @Test func welcomeAnnouncesTheRegistrysFrameLimitAndPingIsAnswered() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try Self.send(channel, Self.hello)
        try Self.send(channel, .ping(nonce: 42, timeMicros: 7))
        let out = try Self.written(channel)
        guard out.count == 2, case .welcome(let version, let limit, _, _) = out[0], case .pong(let nonce, let echoed, _) = out[1] else {
            Issue.record("got \(out)"); return
        }
        #expect(version == 1 && limit == 1 << 20)
        #expect(nonce == 42 && echoed == 7)
        #expect(channel.isActive)
    }

    @Test func handshakeAndIdleTimeoutsFireOnTheLoopsClock() throws {
        let silent = try Self.channel()
        defer { _ = try? silent.finish(acceptAlreadyClosed: true) }
        silent.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(try Self.written(silent).isEmpty, "not yet")
        silent.embeddedEventLoop.advanceTime(by: .seconds(2))
        guard case .error(let code, _)? = try Self.written(silent).last else { Issue.record("no handshake timeout"); return }
        #expect(code == ErrorCode.handshakeTimeout.rawValue)

        let idle = try Self.channel()
        defer { _ = try? idle.finish(acceptAlreadyClosed: true) }
        try Self.send(idle, Self.hello)
        _ = try Self.written(idle)
        idle.embeddedEventLoop.advanceTime(by: .seconds(59))
        try Self.send(idle, .ping(nonce: 1, timeMicros: 1))   // activity restarts the idle clock
        idle.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(try Self.written(idle).allSatisfy { if case .pong = $0 { return true } else { return false } })
        idle.embeddedEventLoop.advanceTime(by: .seconds(2))
        guard case .error(let code, _)? = try Self.written(idle).last else { Issue.record("no idle timeout"); return }
        #expect(code == ErrorCode.idleTimeout.rawValue)
    }

    @Test func aBadFrameIsMalformedAndAnOversizedOneTooLarge() throws {
        let bad = try Self.channel()
        defer { _ = try? bad.finish(acceptAlreadyClosed: true) }
        var junk = ByteBuffer()
        junk.writeBytes([0x03, 0x05, 0xFF, 0xFF])   // a Subscribe cut short
        _ = try? bad.writeInbound(junk)
        guard case .error(let code, _)? = try Self.written(bad).last else { Issue.record("no error"); return }
        #expect(code == ErrorCode.malformedFrame.rawValue)

        let big = try Self.channel()
        defer { _ = try? big.finish(acceptAlreadyClosed: true) }
        var prefix = ByteBuffer()
        prefix.writeBytes([0x80, 0x80, 0x80, 0x01])   // 2 MiB announced, over the 64 KiB limit
        _ = try? big.writeInbound(prefix)
        guard case .error(let code2, _)? = try Self.written(big).last else { Issue.record("no error"); return }
        #expect(code2 == ErrorCode.frameTooLarge.rawValue)
    }

    @Test func aConnectionWhileDrainingGetsError14() throws {
        var config = ServerConfiguration()
        config.handshakeTimeout = 5
        let registry = ServerRegistry(runners: [], catalog: nil, metrics: ServerMetrics(), maxServerFrameBytes: 1 << 20)
        #expect(registry.transition(from: .starting, to: .draining))
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.pipeline.syncOperations.addHandler(ClientSession(registry: registry, configuration: config, logger: Logger(label: "t")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        guard case .error(let code, _)? = try Self.written(channel).last else { Issue.record("no error"); return }
        #expect(code == ErrorCode.serverShuttingDown.rawValue)
    }
}
