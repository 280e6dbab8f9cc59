import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A minimal HTTP/1.1 listener that answers `GET /metrics` with the Prometheus text format
/// (and 404 for anything else). It runs on its own port, apart from the scene stream, with
/// its own limits: at most `maxConnections` at once (more get 503), each closed after one
/// answer, after a bad request (400) or after `idleTimeout` seconds without one.
enum MetricsEndpoint {
    static func start(host: String, port: Int, metrics: ServerMetrics, group: any EventLoopGroup,
                      maxConnections: Int = 64, idleTimeout: Double = 10) async throws -> any Channel {
        let open = OpenCount(limit: maxConnections)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(MetricsConnectionCap(open: open))
                    try ops.addHandler(IdleStateHandler(readTimeout: .nanoseconds(Int64(idleTimeout * 1e9))))
                    // NIO's error handler answers a malformed request with 400; the decoder then closes.
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// Metrics connections open now, against their cap.
final class OpenCount: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)
    init(limit: Int) { self.limit = limit }
    func enter() -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue > limit { count.wrappingSubtract(1, ordering: .relaxed); return false }
        return true
    }
    func leave() { count.wrappingSubtract(1, ordering: .relaxed) }
}

/// First in a metrics connection's pipeline: counts it against the cap, and over the cap
/// answers 503 in raw bytes (before any HTTP handler, since no request came) and closes.
final class MetricsConnectionCap: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let open: OpenCount
    var counted = false

    init(open: OpenCount) { self.open = open }

    func channelActive(context: ChannelHandlerContext) {
        guard open.enter() else {
            let body = "too many metrics connections; try again\n"
            let text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            context.writeAndFlush(NIOAny(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        counted = true
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if counted { context.fireChannelRead(data) }   // a refused connection's bytes go nowhere
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { open.leave(); counted = false }
        context.fireChannelInactive()
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let metrics: ServerMetrics
    var answered = false

    init(metrics: ServerMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered, case .head(let request) = unwrapInboundIn(data) else { return }
        answered = true
        let found = request.method == .GET && (request.uri == "/metrics" || request.uri.hasPrefix("/metrics?"))
        let body = found ? metrics.exposition() : "not found: the metrics are at /metrics\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: found ? .ok : .notFound, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// After a malformed request (NIO's handler has answered 400): close.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
