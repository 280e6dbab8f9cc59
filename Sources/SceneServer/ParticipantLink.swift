import NIOCore
import SceneWire

/// Where a participant's messages (Joined, Refused, InputAck) go and who it is to the token
/// throttle: a client's own connection to this process (`SessionOutlet`), or a session on a
/// gateway, reached over NATS (`RemoteParticipantLink`, Feed/RemoteSeats.swift). The desk
/// tells links apart by identity.
protocol ParticipantLink: AnyObject, Sendable {
    /// The client's IP address (the key of per-address limits).
    var address: String { get }
    func deliver(_ message: WireMessage)
}

extension SessionOutlet: ParticipantLink {
    func deliver(_ message: WireMessage) { send(WireMessageBox(buffer: message.frame(allocator: channel.allocator))) }
}
