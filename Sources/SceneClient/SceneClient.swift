import Foundation
import NIOCore
import NIOPosix
import SceneWire
import Synchronization

/// A connection to a twinscene server: handshake, then messages in as an async stream
/// and messages out with `send`. Counts every byte received on the socket.
public final class SceneClient: Sendable {
    public let channel: any Channel
    /// Decoded messages from the server, in order; finishes when the connection closes.
    public let messages: AsyncThrowingStream<WireMessage, any Error>
    /// Tick-to-arrival latencies of the frames that carry the server's time.
    public let arrivals: FrameArrivals
    /// What the server said in Welcome.
    public let version: UInt16
    public let serverName: String
    let counter: ByteCounter

    /// Bytes received on the socket so far (framing and compression included).
    public var bytesReceived: Int { counter.bytes.load(ordering: .relaxed) }

    /// How a client reaches the server: the TCP stream, or a WebSocket at `path` on the
    /// server's HTTP port (the port given to `connect` is then that one).
    public enum Transport: Sendable, Equatable {
        case tcp
        case webSocket(path: String = "/ws", origin: String? = nil)
    }

    /// Connects and performs the handshake, offering protocol versions up to `maxVersion`.
    public static func connect(host: String, port: Int, name: String = "twinscene-client", maxVersion: UInt16 = WireProtocol.version,
                               transport: Transport = .tcp,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> SceneClient {
        let (stream, continuation) = AsyncThrowingStream<WireMessage, any Error>.makeStream(bufferingPolicy: .unbounded)
        let arrivals = FrameArrivals()
        let counter = ByteCounter()
        let eventLoop = group.next()
        let upgraded = eventLoop.makePromise(of: Void.self)
        let protocolHandlers: @Sendable (any Channel) throws -> Void = { channel in
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(ByteToMessageHandler(WireFrameDecoder()))
            try ops.addHandler(WireMessageCodec())
            try ops.addHandler(Inbox(continuation: continuation, arrivals: arrivals))
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(counter)
                    switch transport {
                    case .tcp:
                        try protocolHandlers(channel)
                        upgraded.succeed(())
                    case .webSocket(let path, let origin):
                        try WebSocketTransport.configure(channel, host: host, port: port, path: path, origin: origin,
                                                         upgraded: upgraded) { upgradedChannel in
                            try upgradedChannel.pipeline.syncOperations.addHandler(MessagesToStream())
                            try protocolHandlers(upgradedChannel)
                        }
                    }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            upgraded.fail(error)
            throw ClientError.cannotConnect(host: host, port: port, reason: "\(error)")
        }
        try await upgraded.futureResult.get()
        channel.writeAndFlush(WireMessage.hello(minVersion: WireProtocol.minimumVersion, maxVersion: maxVersion, client: name).frame(),
                              promise: nil)
        var iterator = stream.makeAsyncIterator()
        guard let first = try await iterator.next() else {
            throw ClientError.closed("the server closed the connection during the handshake")
        }
        switch first {
        case .welcome(let version, _, _, let server):
            return SceneClient(channel: channel, messages: stream, version: version, serverName: server, counter: counter, arrivals: arrivals)
        case .error(let code, let message):
            try? await channel.close()
            throw ClientError.refused(code: code, message: message)
        default:
            try? await channel.close()
            throw ClientError.closed("expected Welcome, got \(first.type)")
        }
    }

    private init(channel: any Channel, messages: AsyncThrowingStream<WireMessage, any Error>, version: UInt16,
                 serverName: String, counter: ByteCounter, arrivals: FrameArrivals) {
        self.arrivals = arrivals
        self.channel = channel
        self.messages = messages
        self.version = version
        self.serverName = serverName
        self.counter = counter
    }

    /// Sends one message.
    public func send(_ message: WireMessage) {
        channel.writeAndFlush(message.frame(), promise: nil)
    }

    /// Sends raw bytes (for tests of the server's handling of bad input).
    public func sendRaw(_ bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Connection failures, each a line a user can act on.
public enum ClientError: Error, CustomStringConvertible, Equatable {
    case cannotConnect(host: String, port: Int, reason: String)
    case refused(code: UInt16, message: String)
    case closed(String)

    public var description: String {
        switch self {
        case .cannotConnect(let host, let port, _): return "cannot connect to \(host):\(port): is `twinscene serve` running there?"
        case .refused(let code, let message): return "the server refused: \(message) (error \(code))"
        case .closed(let why): return why
        }
    }
}

/// Counts bytes as they come off the socket, before any decoding.
final class ByteCounter: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let bytes = Atomic<Int>(0)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes.add(unwrapInboundIn(data).readableBytes, ordering: .relaxed)
        context.fireChannelRead(data)
    }
}

/// Tick-to-arrival latencies (microseconds) of the state frames that carry the server's
/// time, taken as each frame comes off the socket on the client's event loop: before it waits
/// in the client's stream for whoever consumes it.
public final class FrameArrivals: Sendable {
    let samples = Mutex<[UInt64]>([])

    /// The samples so far, and forgets them.
    public func take() -> [UInt64] { samples.withLock { s in defer { s = [] }; return s } }

    func record(_ message: WireMessage) {
        guard case .stateFrame(_, _, let time?, _, _, _) = message else { return }
        let now = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        samples.withLock { $0.append(now > time ? now - time : 0) }
    }
}

/// Feeds decoded messages into the client's stream.
final class Inbox: ChannelInboundHandler, Sendable {
    typealias InboundIn = WireMessage
    let continuation: AsyncThrowingStream<WireMessage, any Error>.Continuation
    let arrivals: FrameArrivals

    init(continuation: AsyncThrowingStream<WireMessage, any Error>.Continuation, arrivals: FrameArrivals) {
        self.continuation = continuation
        self.arrivals = arrivals
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        arrivals.record(message)
        continuation.yield(message)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }
}
