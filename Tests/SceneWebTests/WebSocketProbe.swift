import NIOCore
import NIOPosix
import NIOWebSocket
import SceneClient
import SceneWire
import Synchronization

/// What a test client sends over the WebSocket.
enum WSOut: Sendable {
    case message(WireMessage)
    case raw([UInt8])
    case text(String)
}

/// The Close frame the server sent: its code and reason.
struct WSClose: Sendable, CustomStringConvertible {
    var closeCode: WebSocketErrorCode
    var reason: String
    var description: String { "Close \(closeCode) \"\(reason)\"" }
}

/// What came back: the protocol's messages, messages that did not hold exactly one frame,
/// and the Close frame.
struct WSResult: Sendable {
    var messages: [WireMessage] = []
    var notOneFrame = 0
    var close: WSClose?
    var errorCodes: [UInt16] { messages.compactMap { if case .error(let c, _) = $0 { return c } else { return nil } } }
}

/// Opens a WebSocket to `path` (NIO's WebSocket client, the upgrade as the Swift client
/// makes it), sends `outs`, and reads until `stop` says so, the server closes, or `seconds`
/// pass: the deadline closes the connection on its event loop, whatever state the upgrade
/// or the server is in, so a run always ends.
func wsRun(port: Int, path: String = "/ws", outs: [WSOut], seconds: Double = 30,
           stop: @escaping @Sendable ([WireMessage]) -> Bool = { _ in false }) async throws -> WSResult {
    let result = ResultBox()
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let upgraded = loop.makePromise(of: Void.self)
    let bootstrap = ClientBootstrap(group: loop)
        .connectTimeout(.seconds(10))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try WebSocketTransport.configure(channel, host: "127.0.0.1", port: port, path: path, origin: "ws://127.0.0.1",
                                                 upgraded: upgraded) { upgradedChannel in
                    try upgradedChannel.pipeline.syncOperations.addHandler(FrameCollector(result: result, stop: stop))
                }
            }
        }
    let channel: any Channel
    do {
        channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
    } catch {
        upgraded.fail(error)
        throw error
    }
    let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { channel.close(promise: nil) }
    defer { deadline.cancel() }
    var isUpgraded = false
    do {
        try await upgraded.futureResult.get()
        isUpgraded = true
        for out in outs {
            let frame: WebSocketFrame
            switch out {
            case .message(let m): frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: m.frame())
            case .raw(let bytes): frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: bytes))
            case .text(let t): frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: t))
            }
            try await channel.writeAndFlush(frame).get()
        }
    } catch {
        // A write the server's close cut short: what it sent before is the result.
        if !isUpgraded { channel.close(promise: nil); throw error }
    }
    try? await channel.closeFuture.get()
    return result.value.withLock { $0 }
}

/// The result, shared by the test and the connection's handler.
private final class ResultBox: Sendable {
    let value = Mutex(WSResult())
}

/// Collects the server's binary messages (a message may come in fragments: the shared frame's
/// head, then its tail), decoding each as exactly one protocol frame; answers pings, and a
/// Close with a Close before closing.
private final class FrameCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let result: ResultBox
    let stop: @Sendable ([WireMessage]) -> Bool
    /// The message being assembled from its fragments (only touched on the event loop).
    private let pending = Mutex<ByteBuffer?>(nil)

    init(result: ResultBox, stop: @escaping @Sendable ([WireMessage]) -> Bool) {
        self.result = result
        self.stop = stop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            let whole = pending.withLock { p -> ByteBuffer? in
                var part = frame.unmaskedData
                if frame.opcode == .binary || p == nil { p = part } else { p!.writeBuffer(&part) }
                guard frame.fin else { return nil }
                defer { p = nil }
                return p
            }
            guard var buffer = whole else { return }
            let decoded: WireMessage?
            if let f = try? WireFrameDecoder(maxFrameBytes: 1 << 24).next(&buffer), buffer.readableBytes == 0 {
                decoded = try? WireMessage.decode(type: f.type, payload: f.payload)
            } else {
                decoded = nil
            }
            let done = result.value.withLock { r -> Bool in
                if let decoded { r.messages.append(decoded) } else { r.notOneFrame += 1 }
                return stop(r.messages)
            }
            if done { context.close(promise: nil) }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .unknown(1005)
            let reason = data.readString(length: data.readableBytes) ?? ""
            result.value.withLock { $0.close = WSClose(closeCode: code, reason: reason) }
            var echo = context.channel.allocator.buffer(capacity: 2)
            echo.write(webSocketErrorCode: code)
            let answer = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }
}
