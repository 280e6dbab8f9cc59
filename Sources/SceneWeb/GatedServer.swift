import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import SceneServer
import WSCore

/// Hummingbird's HTTP/1 channel with the WebSocket upgrade, and a `RequestGate` put in each
/// connection's pipeline right after the HTTP decoder.
struct GatedServer: Sendable {
    let origins: OriginPolicy
    let headDeadline: Double
    let configuration: HTTP1WebSocketUpgradeChannel.Configuration
    let server: SceneServer
    let logger: Logger

    var builder: HTTPServerBuilder {
        let server = self.server, origins = self.origins, headDeadline = self.headDeadline, configuration = self.configuration
        return HTTPServerBuilder { responder in
            let inner = HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration) { request, channel, logger in
                // The gate has refused other paths and foreign Origins already.
                guard request.path == "/ws" || request.path?.hasPrefix("/ws?") == true else { return .dontUpgrade }
                return .upgrade([:]) { inbound, _, context in
                    await WebSocketBridge.run(server: server, channel: channel, inbound: inbound, logger: context.logger)
                }
            }
            return Gated(inner: inner, origins: origins, headDeadline: headDeadline)
        }
    }

    struct Gated: ServerChildChannel {
        typealias Value = HTTP1WebSocketUpgradeChannel.Value
        let inner: HTTP1WebSocketUpgradeChannel
        let origins: OriginPolicy
        let headDeadline: Double

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
            let origins = self.origins, headDeadline = self.headDeadline
            return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
                let ops = channel.pipeline.syncOperations
                let decoder = try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try ops.addHandler(RequestGate(origins: origins, headDeadline: headDeadline), position: .after(decoder))
                return value
            }
        }

        func handle(value: Value, logger: Logger) async {
            await inner.handle(value: value, logger: logger)
        }
    }
}
