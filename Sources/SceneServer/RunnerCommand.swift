import CityTiles
import Scenarios
import SceneWire
import Synchronization

/// What sessions (and the runner's own catalog work) ask of a scene's tick thread.
enum RunnerCommand: Sendable {
    /// The session's protocol version decides what the subscription is sent (section 7 of
    /// docs/PROTOCOL.md: version 2 gets identities and area-filtered attributes and events).
    case subscribe(SessionOutlet, UInt32, WireArea?, version: UInt16)
    case unsubscribe(SessionOutlet, UInt32)
    /// `request` is version 2's request id, answered by AreaMoved; nil for version 1.
    case moveArea(SessionOutlet, UInt32, WireArea?, request: UInt32?)
    /// Drops the session's subscriptions; its participant, if any, goes away for its grace period.
    case dropSession(SessionOutlet)
    /// Version 3's participants (ParticipantDesk), from a session of this process or, on a
    /// scene's process, from a gateway's session (`RemoteParticipantLink`).
    case join(any ParticipantLink, JoinRequest)
    case input(any ParticipantLink, participant: UInt32, sequence: UInt32, WireInput)
    case leave(any ParticipantLink, participant: UInt32)
    /// A gateway's session dropped, or the gateway went silent: its participant goes away
    /// for its grace period, as for `dropSession`.
    case dropLink(any ParticipantLink)
    case control(ControlCommand, catalog: Catalog?, reply: ControlReply)
    /// A tile prepared off the tick thread, to become obstacles at the next tick boundary.
    case tileReady(Result<PreparedTile, any Error>, reply: ControlReply)
    /// A scene rebuilt off the tick thread for a reset, to replace the running one.
    case sceneReady(PendingScene, seed: UInt64, reply: ControlReply)
    /// The feed (docs/SCALEOUT.md): a gateway's key request, answered after the next tick.
    case feedKeys(FeedKeyRequest, reply: String)
    /// A gateway's relay: the feed broke (NATS away, a slow consumer's drops); every subscriber resyncs.
    case feedBroken(String)
}

/// How a control command's result goes back to the operator's connection.
typealias ControlReply = @Sendable (_ ok: Bool, _ message: String) -> Void

/// A scene loaded on another thread, on its way to the tick thread (taken once).
final class PendingScene: Sendable {
    private let scene: Mutex<Result<LoadedScene, any Error>?>

    init(_ result: sending Result<LoadedScene, any Error>) { scene = Mutex(result) }

    func take() -> Result<LoadedScene, any Error>? {
        scene.withLock { s -> sending Result<LoadedScene, any Error>? in let v = s; s = nil; return v }
    }
}
