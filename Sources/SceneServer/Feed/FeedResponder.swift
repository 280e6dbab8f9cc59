import CoreMetrics
import CityTiles
import Logging
import NATSClient
import NIOCore
import Scenarios
import SceneWire

/// A scene process's answers on NATS (docs/SCALEOUT.md): the scenes it serves, key requests
/// (handed to the scene's tick thread, answered after its next tick), control commands
/// from a gateway (NATS is a trusted bus: the gateway checked the operator's token).
struct FeedResponder {
    let connection: NATSConnection
    let runners: [SceneRunner]
    let catalog: Catalog?
    let logger: Logger

    /// Subscribes and answers until the connection closes; the tasks are the caller's to cancel.
    func start() throws -> [Task<Void, Never>] {
        var tasks: [Task<Void, Never>] = []
        let scenes = try connection.subscribe(FeedSubjects.scenes)
        let connection = self.connection, runners = self.runners, logger = self.logger, catalog = self.catalog
        tasks.append(Task.detached {
            for await m in scenes {
                guard let reply = m.reply else { continue }
                let list = runners.map { r in
                    FeedScene(name: r.name, scenario: r.scenario.rawValue, maxFrameBytes: r.maxFrameBytes, entities: UInt32(clamping: r.entities),
                              info: { var i = r.info; i.subscription = 0; i.version = 2; return i }(), sceneWideEvents: r.sceneWideEvents.sorted())
                }
                try? connection.publish(reply, payload: FeedScene.encode(list))
            }
        })
        for runner in runners {
            let keys = try connection.subscribe(FeedSubjects.keys(runner.name))
            tasks.append(Task.detached {
                var bad = 0
                for await m in keys {
                    guard let reply = m.reply else { continue }
                    do {
                        runner.enqueue(.feedKeys(try FeedKeyRequest.decode(m.payload), reply: reply))
                    } catch {
                        bad += 1
                        if bad == 1 || bad % 1000 == 0 { logger.error("a bad key request on the feed", metadata: ["error": "\(error)", "count": "\(bad)"]) }
                    }
                }
            })
            let control = try connection.subscribe(FeedSubjects.control(runner.name))
            tasks.append(Task.detached {
                for await m in control {
                    guard let reply = m.reply else { continue }
                    guard case .control(_, _, let command)? = try? FeedWire.message(m.payload) else {
                        try? connection.publish(reply, payload: WireMessage.controlResult(ok: false, message: "not a Control frame").frame())
                        continue
                    }
                    logger.notice("control from a gateway", metadata: ["command": "\(ClientSession.describe(command))"])
                    runner.metrics.controlActions.increment()
                    runner.enqueue(.control(command, catalog: catalog, reply: { ok, text in
                        try? connection.publish(reply, payload: WireMessage.controlResult(ok: ok, message: text).frame())
                    }))
                }
            })
        }
        return tasks
    }
}
