import NIOCore
import SceneWire

/// A gateway's session's participant traffic to the scene's process, on `scene.S.desk`
/// (docs/SCALEOUT.md, "Participants through a gateway"): the client's Join, Input or Leave
/// frame as it came, that the session dropped, or that the gateway is alive. Replies
/// (`FeedDeskReply`) go to the subject `gateway` names.
package struct FeedDeskRequest: Sendable, Equatable {
    package enum Op: UInt8, Sendable {
        /// A Join, Input or Leave frame of the session's client.
        case message = 1
        /// The session's connection closed: its participant goes away for its grace period.
        case dropped = 2
        /// The gateway is alive (once a second while it has sessions that joined or are
        /// joining): a gateway silent for `RemoteSeats.silentAfter` has its participants dropped.
        case alive = 3
    }
    package var op: Op
    package var gateway: String
    package var session: UInt64
    /// The client's IP address, for the scene's throttle of wrong tokens.
    package var address: String
    package var frame: ByteBuffer?

    package init(op: Op, gateway: String, session: UInt64 = 0, address: String = "", frame: ByteBuffer? = nil) {
        self.op = op; self.gateway = gateway; self.session = session; self.address = address; self.frame = frame
    }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 64 + (frame?.readableBytes ?? 0))
        out.writeInteger(op.rawValue)
        out.writeWireString(gateway)
        out.writeVarint(session)
        out.writeWireString(address)
        if var f = frame { out.writeBuffer(&f) }
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedDeskRequest {
        var b = payload
        guard let raw: UInt8 = b.readInteger() else { throw .truncated("desk op") }
        guard let op = Op(rawValue: raw) else { throw .malformed("desk op \(raw)") }
        let gateway = try b.readWireString("desk gateway"), session = try b.readVarint(), address = try b.readWireString("desk address")
        guard !gateway.isEmpty, gateway.utf8.count <= 255 else { throw .malformed("desk gateway subject of \(gateway.utf8.count) bytes") }
        let rest = b.readSlice(length: b.readableBytes)!
        switch op {
        case .message:
            guard rest.readableBytes > 0 else { throw .malformed("desk message without a frame") }
            return FeedDeskRequest(op: op, gateway: gateway, session: session, address: address, frame: rest)
        case .dropped, .alive:
            guard rest.readableBytes == 0 else { throw .malformed("desk op \(raw) with bytes after it") }
            return FeedDeskRequest(op: op, gateway: gateway, session: session, address: address)
        }
    }
}

/// The scene's answer to a gateway's session: one Joined, Refused or InputAck frame, which the
/// gateway passes to the session's client as it came.
package struct FeedDeskReply: Sendable, Equatable {
    package var session: UInt64
    package var frame: ByteBuffer

    package init(session: UInt64, frame: ByteBuffer) { self.session = session; self.frame = frame }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 10 + frame.readableBytes)
        out.writeVarint(session)
        var f = frame
        out.writeBuffer(&f)
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedDeskReply {
        var b = payload
        let session = try b.readVarint()
        guard b.readableBytes > 0 else { throw .malformed("desk reply without a frame") }
        return FeedDeskReply(session: session, frame: b.readSlice(length: b.readableBytes)!)
    }
}
