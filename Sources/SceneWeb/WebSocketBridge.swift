import Logging
import NIOCore
import NIOWebSocket
import SceneServer
import SceneWire
import WSCore

/// Carries the protocol over one upgraded WebSocket: each binary message from the client is
/// exactly one frame (length prefix included, as on TCP), handed to the same `ClientSession`
/// a TCP connection has, on the channel's event loop; what the session sends goes out through
/// its outlet, one binary message per frame.
///
/// A text message, a message that is not exactly one whole frame, or one over the client
/// frame limit is a protocol Error (1, 2) and the end of the connection, as on TCP.
enum WebSocketBridge {
    static func run(server: SceneServer, channel: any Channel, inbound: WebSocketInboundStream, logger: Logger) async {
        let maxFrame = server.configuration.maxClientFrameBytes
        // The largest message: the frame limit plus its varint length prefix.
        let maxMessage = maxFrame + 5
        let session: NIOLoopBound<ClientSession>
        do {
            session = try await channel.eventLoop.submit {
                let s = server.makeSession()
                s.start(channel: channel, framing: .webSocket)
                return NIOLoopBound(s, eventLoop: channel.eventLoop)
            }.get()
        } catch {
            return
        }
        // The session's Error and its Close (4000 + code) go out first, and the handler returns
        // only once the connection is closed: WSCore, left to finish, would send its own
        // Close (1000) and could get it ahead of the session's.
        let fail: @Sendable (ErrorCode, String) async -> Void = { code, text in
            try? await channel.eventLoop.submit { session.value.fail(code, text) }.get()
            try? await channel.closeFuture.get()
        }
        var message = ByteBuffer()
        var isText = false
        let decoder = WireFrameDecoder(maxFrameBytes: maxFrame)
        do {
            reading: for try await frame in inbound {
                if frame.opcode != .continuation {
                    message.clear()
                    isText = frame.opcode == .text
                }
                guard message.readableBytes + frame.data.readableBytes <= maxMessage else {
                    await fail(.frameTooLarge, "a WebSocket message over \(maxMessage) bytes (one frame of at most \(maxFrame) bytes)")
                    break reading
                }
                var data = frame.data
                message.writeBuffer(&data)
                guard frame.fin else { continue }
                if isText {
                    await fail(.malformedFrame, "a text WebSocket message; the protocol's messages are binary")
                    break reading
                }
                let m: WireMessage
                do {
                    guard let f = try decoder.next(&message), message.readableBytes == 0 else {
                        await fail(.malformedFrame, "a WebSocket message must hold exactly one whole frame")
                        break reading
                    }
                    m = try WireMessage.decode(type: f.type, payload: f.payload)
                } catch {
                    // Both calls throw WireError only (typed throws).
                    await fail(error.code, error.description)
                    break reading
                }
                channel.eventLoop.execute { session.value.receive(m) }
            }
        } catch {
            // WSCore closes for its own protocol errors (bad opcodes, control frames); the
            // session goes when the channel does.
            logger.debug("WebSocket ended", metadata: ["error": "\(error)"])
        }
        // Returning lets WSCore finish the close (after a failure, the connection is closed).
        channel.eventLoop.execute { session.value.stop() }
    }
}
