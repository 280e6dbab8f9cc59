import NIOCore
import Scenarios
import SceneWire

/// What the HTTP and WebSocket front (SceneWeb) needs of the server: sessions for upgraded
/// WebSockets, and what SceneList and SceneInfo carry, for `/api/scenes`.
extension SceneServer {
    /// A session for a WebSocket connection; `start(channel:framing:)` it on the channel's
    /// event loop. It obeys the same handshake, limits, budget and timeouts as a TCP client
    /// and counts against the same connection cap.
    package func makeSession() -> ClientSession {
        ClientSession(registry: registry, configuration: configuration, logger: logger)
    }

    /// The scenes, as SceneList says them.
    package var sceneSummaries: [SceneSummary] {
        registry.runners.map {
            SceneSummary(name: $0.name, scenario: $0.scenario.rawValue, entities: UInt32($0.entities), tickRate: UInt16($0.tickRate))
        }
    }

    /// Who may join each scene (closed where its scenario takes nobody).
    package var joinPolicies: [String: JoinPolicy] {
        Dictionary(registry.runners.map { ($0.name, $0.joinPolicy) }, uniquingKeysWith: { a, _ in a })
    }

    /// A scene's SceneInfo (version 2 layout), nil for no such scene.
    package func sceneInfo(named name: String) -> SceneInfoMessage? {
        registry.runners.first { $0.name == name }?.info.message(subscription: 0, version: WireProtocol.version).sceneInfo
    }

    /// The current tick of a scene, nil for no such scene.
    package func tick(ofScene name: String) -> UInt64? {
        registry.runners.first { $0.name == name }?.tick
    }
}

extension WireMessage {
    /// The SceneInfo inside, if this is one.
    var sceneInfo: SceneInfoMessage? {
        if case .sceneInfo(let info) = self { return info }
        return nil
    }
}
