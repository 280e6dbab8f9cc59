import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The client side of the protocol over a WebSocket (docs/PROTOCOL.md, section 1a), with
/// NIO's own WebSocket client: independent of the server's (Hummingbird's). After the
/// upgrade, binary messages are turned back into the byte stream the TCP pipeline reads, and
/// each frame the client writes goes out as one masked binary message.
package enum WebSocketTransport {
    /// Adds the HTTP upgrade to `channel`; once upgraded, `then` adds the handlers of
    /// WebSocket frames (`MessagesToStream` and the protocol's, for the client).
    package static func configure(_ channel: any Channel, host: String, port: Int, path: String, origin: String?,
                          upgraded: EventLoopPromise<Void>, then: @escaping @Sendable (any Channel) throws -> Void) throws {
        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 25, automaticErrorHandling: true) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                let ops = channel.pipeline.syncOperations
                // The request is answered: from now on the stream carries WebSocket frames.
                ops.removeHandler(try ops.handler(type: UpgradeRequest.self), promise: nil)
                try then(channel)
                upgraded.succeed(())
            }
        }
        let ops = channel.pipeline.syncOperations
        try ops.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes,
                                      withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
        try ops.addHandler(UpgradeRequest(host: host, port: port, path: path, origin: origin, upgraded: upgraded))
    }
}

/// Sends the upgrade request once connected; fails the upgrade if the server answers
/// anything but 101.
final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    let host: String, port: Int, path: String, origin: String?
    let upgraded: EventLoopPromise<Void>

    init(host: String, port: Int, path: String, origin: String?, upgraded: EventLoopPromise<Void>) {
        self.host = host; self.port = port; self.path = path; self.origin = origin; self.upgraded = upgraded
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("Host", "\(host):\(port)"), ("Content-Length", "0")])
        if let origin { headers.add(name: "Origin", value: origin) }
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only a refused upgrade reaches here (a 101 is taken by the upgrader).
        if case .head(let head) = unwrapInboundIn(data) {
            upgraded.fail(ClientError.closed("the server refused the WebSocket upgrade: HTTP \(head.status.code)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upgraded.fail(ClientError.closed("the connection closed during the WebSocket upgrade"))
        context.fireChannelInactive()
    }
}

/// Binary messages in as stream bytes, stream bytes out as binary messages (masked, as a
/// client must); answers pings, and ends the connection on a Close.
final class MessagesToStream: ChannelDuplexHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: bytes)), promise: promise)
    }
}
