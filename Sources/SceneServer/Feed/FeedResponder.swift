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
    /// Wrong join and resume tokens of gateways' clients, counted by their addresses.
    let joinTokens: AuthThrottle
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
                              info: { var i = r.info; i.subscription = 0; i.version = 2; return i }(), sceneWideEvents: r.sceneWideEvents.sorted(),
                              joinAccess: !r.joinPolicy.joinable ? 0 : r.joinPolicy.access == .open ? 1 : 2,
                              maxParticipants: UInt32(clamping: r.joinPolicy.maxParticipants))
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
            if runner.joinPolicy.joinable { tasks += try desk(runner) }
        }
        return tasks
    }

    /// Participants through gateways: their sessions' Join, Input and Leave to the scene's
    /// desk as a local session's would go, through a link per session that sends the answers
    /// back; the sessions of a gateway silent for 10 s are dropped (their participants away).
    func desk(_ runner: SceneRunner) throws -> [Task<Void, Never>] {
        let connection = self.connection, logger = self.logger, tokens = self.joinTokens
        let seats = RemoteSeats(limit: max(1024, 4 * runner.joinPolicy.maxParticipants))
        let requests = try connection.subscribe(FeedSubjects.desk(runner.name))
        let listen = Task.detached {
            var bad = 0
            for await m in requests {
                do {
                    let r = try FeedDeskRequest.decode(m.payload)
                    switch r.op {
                    case .alive: seats.heard(r.gateway)
                    case .dropped: if let link = seats.remove(gateway: r.gateway, session: r.session) { runner.enqueue(.dropLink(link)) }
                    case .message:
                        switch try FeedWire.message(r.frame!, maxFrameBytes: 4096) {
                        case .join(let request, _, let name, let start, let joinToken, let resumeToken):
                            guard let link = seats.link(gateway: r.gateway, session: r.session, address: r.address, connection: connection) else {
                                let full = WireMessage.refused(request: request, code: ErrorCode.sceneFull.rawValue, count: 1,
                                                               message: "scene \(runner.name) has \(seats.limit) sessions joining through gateways; try again later")
                                try? connection.publish(r.gateway, payload: FeedDeskReply(session: r.session, frame: full.frame()).encoded())
                                continue
                            }
                            runner.enqueue(.join(link, JoinRequest(request: request, name: name, start: start, joinToken: joinToken,
                                                                   resumeToken: resumeToken, tokens: tokens, settle: { _ in })))
                        case .input(let participant, let sequence, let input):
                            if let link = seats.existing(gateway: r.gateway, session: r.session) {
                                runner.enqueue(.input(link, participant: participant, sequence: sequence, input))
                            }
                        case .leave(let participant):
                            if let link = seats.existing(gateway: r.gateway, session: r.session) { runner.enqueue(.leave(link, participant: participant)) }
                        default:
                            throw WireError.malformed("a desk message that is not a Join, Input or Leave")
                        }
                    }
                } catch {
                    bad += 1
                    if bad == 1 || bad % 1000 == 0 { logger.error("a bad desk message on the feed", metadata: ["error": "\(error)", "count": "\(bad)"]) }
                }
            }
        }
        let sweep = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                let gone = seats.silent()
                if !gone.isEmpty { logger.warning("a gateway went silent: its participants are away", metadata: ["sessions": "\(gone.count)", "scene": "\(runner.name)"]) }
                for link in gone { runner.enqueue(.dropLink(link)) }
            }
        }
        return [listen, sweep]
    }
}
