import CityTiles
import Scenarios
import SceneWire
import Synchronization

/// What sessions (and the runner's own catalog work) ask of a scene's tick thread.
enum RunnerCommand: Sendable {
    case subscribe(SessionOutlet, UInt32, WireArea?)
    case unsubscribe(SessionOutlet, UInt32)
    case moveArea(SessionOutlet, UInt32, WireArea?)
    case dropSession(SessionOutlet)
    case control(ControlCommand, catalog: Catalog?, reply: ControlReply)
    /// A tile prepared off the tick thread, to become obstacles at the next tick boundary.
    case tileReady(Result<PreparedTile, any Error>, reply: ControlReply)
    /// A scene rebuilt off the tick thread for a reset, to replace the running one.
    case sceneReady(PendingScene, seed: UInt64, reply: ControlReply)
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
