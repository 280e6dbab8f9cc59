import NIOCore
import NIOHTTP1

/// Sits right after the HTTP request decoder of every HTTP connection, before Hummingbird:
///
/// - a WebSocket upgrade without its key or version gets 400; one from a foreign Origin, 403 (cross-site WebSocket hijacking: a
///   page elsewhere must not drive a person's browser into the stream or the console); one
///   on any path but `/ws` gets 404;
/// - headers over the decoder's limit get 431, any other unparsable request 400;
/// - a connection that has not sent a whole request head within `headDeadline` seconds is
///   closed (thousands of half-open requests or upgrades hold no descriptors for long).
///
/// Once an upgrade it allowed goes ahead it passes everything through untouched (the
/// WebSocket's bytes and frames, after NIO has taken the HTTP handlers away).
final class RequestGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let origins: OriginPolicy
    let headDeadline: Double
    private var deadline: Scheduled<Void>?
    private var refusing = false
    private var passThrough = false

    init(origins: OriginPolicy, headDeadline: Double) {
        self.origins = origins
        self.headDeadline = headDeadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(headDeadline * 1e9))) { ctx.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if passThrough { context.fireChannelRead(data); return }
        guard !refusing else { return }
        let part = unwrapInboundIn(data)
        guard case .head(let head) = part else { context.fireChannelRead(data); return }
        deadline?.cancel()
        deadline = nil
        let upgrade = head.headers["upgrade"].contains { $0.lowercased() == "websocket" }
        guard upgrade else { context.fireChannelRead(data); return }
        if head.uri != "/ws" && !head.uri.hasPrefix("/ws?") {
            refuse(context, .notFound, "no WebSocket endpoint at this path; the stream is at /ws\n")
            return
        }
        // NIO's upgrader would close such a request without an answer.
        guard head.headers["sec-websocket-key"].count == 1, head.headers["sec-websocket-version"].first == "13" else {
            refuse(context, .badRequest, "a WebSocket upgrade needs one Sec-WebSocket-Key and Sec-WebSocket-Version: 13\n")
            return
        }
        if let origin = head.headers["origin"].first, !origins.allows(origin: origin, host: head.headers["host"].first) {
            refuse(context, .forbidden, "WebSocket upgrade refused: Origin \(origin) is not this server's (start the server with --allow-origin \(origin) to allow it)\n")
            return
        }
        passThrough = true
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !passThrough, let e = error as? HTTPParserError else { context.fireErrorCaught(error); return }
        if case .headerOverflow = e {
            refuse(context, .requestHeaderFieldsTooLarge, "the request's headers are over the server's limit\n")
        } else {
            refuse(context, .badRequest, "malformed HTTP request: \(e)\n")
        }
    }

    /// Answers with `status` and a text body, then closes.
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String) {
        guard !refusing else { return }
        refusing = true
        deadline?.cancel()
        var body = context.channel.allocator.buffer(capacity: text.utf8.count)
        body.writeString(text)
        let headers = HTTPHeaders([("content-type", "text/plain; charset=utf-8"), ("content-length", "\(body.readableBytes)"), ("connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in ctx.value.close(promise: nil) }
    }
}

/// Which Origins may open the WebSocket: the server's own (the Origin's host and port are
/// the request's Host), those named with `--allow-origin`, and requests with no Origin at all
/// (not a browser, so not a cross-site page).
struct OriginPolicy: Sendable {
    let allowed: Set<String>

    init(allowed: [String]) { self.allowed = Set(allowed.map { Self.normalised($0) }) }

    func allows(origin: String, host: String?) -> Bool {
        let o = Self.normalised(origin)
        if allowed.contains(o) { return true }
        guard let host, !host.isEmpty else { return false }
        let h = host.lowercased()
        return o == "http://\(h)" || o == "https://\(h)"
    }

    static func normalised(_ origin: String) -> String {
        var s = origin.lowercased()
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
