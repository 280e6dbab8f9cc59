import CityTiles
import CoreMetrics
import Logging
import NIOCore
import Scenarios
import SceneWire
import Synchronization

/// One client connection: handshake, subscriptions, control, pings, and the rules that
/// close a misbehaving client (and only that client) with an error code.
///
/// The same session serves both transports: a TCP stream (as the last handler of the
/// connection's pipeline, `channelActive` and friends) and a WebSocket (SceneWeb calls
/// `start`, `receive` and `stop` on the connection's event loop). What differs between them
/// is how a frame is written, which the outlet owns.
package final class ClientSession: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = WireMessage

    let registry: ServerRegistry
    let configuration: ServerConfiguration
    var logger: Logger
    var outlet: SessionOutlet?
    var ready = false
    /// The protocol version agreed in Welcome.
    var version: UInt16 = WireProtocol.version
    var subscriptions: [UInt32: SceneRunner] = [:]
    var handshakeTimer: Scheduled<Void>?
    var idleTimer: Scheduled<Void>?
    var closing = false
    var buckets: RequestBuckets
    /// The participant this connection controls, its inputs' rate and last sequence number,
    /// and its refusals (ClientSession+Participants.swift).
    var seat: SessionSeat?
    var inputBucket: TokenBucket
    var lastSequence: UInt32?
    var refusals = RefusalGate()

    init(registry: ServerRegistry, configuration: ServerConfiguration, logger: Logger) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.buckets = RequestBuckets(configuration.requestLimits)
        self.inputBucket = TokenBucket(rate: configuration.inputsPerSecond, burst: configuration.inputBurst)
    }

    package func channelActive(context: ChannelHandlerContext) {
        start(channel: context.channel, framing: .stream)
        context.fireChannelActive()
    }

    package func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data))
    }


    /// The connection is open: counted against the cap, its handshake and idle timers armed.
    /// On the channel's event loop.
    package func start(channel: any Channel, framing: OutletFraming) {
        let outlet = SessionOutlet(channel: channel, id: registry.nextSessionId(), metrics: registry.metrics, framing: framing,
                                   closeGrace: configuration.closeGrace, goodbyeGrace: configuration.goodbyeGrace)
        self.outlet = outlet
        logger[metadataKey: "client"] = "\(outlet.remote)"
        if framing == .webSocket { logger[metadataKey: "transport"] = "websocket" }
        guard registry.state != .draining && registry.state != .stopped else {
            fail(.serverShuttingDown, "the server is shutting down")
            return
        }
        let limit = registry.maxConnections.load(ordering: .relaxed)
        guard registry.add(outlet, limit: limit) else {
            fail(.tooManyConnections, "the server has its maximum of \(limit) connections")
            return
        }
        handshakeTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(configuration.handshakeTimeout * 1e9))) { [self] in
            if !ready { fail(.handshakeTimeout, "no Hello within \(configuration.handshakeTimeout) s") }
        }
        resetIdleTimer()
    }

    /// The connection is gone: its subscriptions are dropped. On the channel's event loop.
    package func stop() {
        handshakeTimer?.cancel()
        idleTimer?.cancel()
        if let outlet {
            registry.remove(outlet)
            var seen = Set<ObjectIdentifier>()
            for runner in subscriptions.values + (seat.map { [$0.runner] } ?? []) where seen.insert(ObjectIdentifier(runner)).inserted {
                runner.enqueue(.dropSession(outlet))
            }
        }
        subscriptions.removeAll()
        seat = nil
    }

    func resetIdleTimer() {
        guard let eventLoop = outlet?.channel.eventLoop else { return }
        idleTimer?.cancel()
        idleTimer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(configuration.idleTimeout * 1e9))) { [self] in
            fail(.idleTimeout, "nothing received for \(configuration.idleTimeout) s (clients ping)")
        }
    }

    /// Sends a reply through the outlet, so its bytes count against the client's budget like
    /// state frames; a client that let its queue stand over the budget too long is closed.
    func send(_ message: WireMessage) {
        guard let outlet else { return }
        if outlet.stalled(budget: configuration.outboundBudgetBytes, timeout: configuration.drainTimeout) {
            registry.metrics.slowClientsClosed.increment()
            fail(.tooSlow, "over \(configuration.outboundBudgetBytes) queued bytes for more than \(configuration.drainTimeout) s without reading")
            return
        }
        outlet.send(WireMessageBox(buffer: message.frame(allocator: outlet.channel.allocator)))
    }

    /// Sends an error with its code, then closes this client only. The log line is rate
    /// limited across clients (a flood of bad connections cannot flood the log).
    package func fail(_ code: ErrorCode, _ message: String) {
        guard !closing, let outlet else { return }
        closing = true
        if let suppressed = registry.closeLog.admit() {
            var meta: Logger.Metadata = ["code": "\(code)", "reason": "\(message)"]
            if suppressed > 0 { meta["suppressed"] = "\(suppressed)" }
            logger.info("closing client", metadata: meta)
        }
        // Refusals at the door (the connection cap, a drain) close at once, so they never hold
        // descriptors. A session that broke a rule gets a lingering close (SessionOutlet.end).
        let linger = code != .tooManyConnections && code != .serverShuttingDown
        outlet.end(code, message, linger: linger ? Self.lingerSeconds : nil)
    }

    /// Seconds a closing session's input is drained before its socket closes.
    static let lingerSeconds = 2.0

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .truncated(let what)? = error as? WireError, what.hasPrefix("frame:") {
            // The client went away mid-frame: counted and logged (rate limited), nothing to answer.
            registry.metrics.framesTruncated.increment()
            if registry.closeLog.admit() != nil { logger.info("client frame truncated by the end of its stream", metadata: ["detail": "\(what)"]) }
            closing = true
            context.close(promise: nil)
        } else if let e = error as? WireError {
            fail(e.code, e.description)
        } else if let e = error as? ByteToMessageDecoderError {
            fail(.malformedFrame, "\(e)")
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// One message from the client, on the channel's event loop.
    package func receive(_ message: WireMessage) {
        guard !closing, let outlet else { return }
        resetIdleTimer()
        if let exceeded = buckets.admit(message, now: outlet.channel.eventLoop.now, limits: configuration.requestLimits) {
            registry.metrics.requestsLimited.increment()
            fail(.rateLimited, exceeded)
            return
        }
        guard ready else {
            guard case .hello(let minV, let maxV, let client) = message else {
                fail(.unexpectedMessage, "the first message must be Hello, got \(message.type)")
                return
            }
            let highest = min(configuration.maxProtocolVersion, WireProtocol.version)
            // The highest version both speak.
            let agreed = min(maxV, highest)
            guard agreed >= max(minV, WireProtocol.minimumVersion), agreed > 0 else {
                let spoken = WireProtocol.minimumVersion...highest
                fail(.versionUnsupported, "this server speaks protocol \(spoken.map(String.init).joined(separator: ", ")); the client asked for \(minV)...\(maxV)")
                return
            }
            ready = true
            version = agreed
            handshakeTimer?.cancel()
            logger[metadataKey: "clientName"] = "\(LogText.safe(client))"
            logger.debug("client connected")
            send(.welcome(version: version, maxFrameBytes: UInt32(clamping: registry.maxServerFrameBytes),
                                   serverTimeMicros: ServerClock.micros(), server: configuration.serverName))
            return
        }
        // Messages of another version than the session's: version 2 moves areas with a request
        // id (MoveAreaRequest); version 1 has no MoveAreaRequest.
        guard message.type.since <= version, message.type.until >= version else {
            fail(.unexpectedMessage, "\(message.type) is not part of protocol version \(version), which this session speaks")
            return
        }
        switch message {
        case .listScenes:
            send(.sceneList(registry.runners.map {
                SceneSummary(name: $0.name, scenario: $0.scenario.rawValue, entities: UInt32($0.entities), tickRate: UInt16($0.tickRate))
            }))
        case .subscribe(let id, let scene, let area):
            guard let runner = registry.runners.first(where: { $0.name == scene }) else {
                fail(.unknownScene, "no scene named '\(LogText.safe(scene))'; scenes: \(registry.runners.map(\.name).joined(separator: ", "))")
                return
            }
            guard subscriptions[id] == nil else { fail(.unexpectedMessage, "subscription \(id) is already in use"); return }
            guard subscriptions.count < configuration.maxSubscriptionsPerClient else {
                fail(.tooManySubscriptions, "at most \(configuration.maxSubscriptionsPerClient) subscriptions per client")
                return
            }
            subscriptions[id] = runner
            send(runner.info.message(subscription: id, version: version))
            runner.enqueue(.subscribe(outlet, id, area, version: version))
        case .unsubscribe(let id):
            guard let runner = subscriptions.removeValue(forKey: id) else { fail(.unknownSubscription, "no subscription \(id)"); return }
            runner.enqueue(.unsubscribe(outlet, id))
        case .moveArea(let id, let area):
            guard let runner = subscriptions[id] else { fail(.unknownSubscription, "no subscription \(id)"); return }
            runner.enqueue(.moveArea(outlet, id, area, request: nil))
        case .moveAreaRequest(let id, let request, let area):
            guard let runner = subscriptions[id] else { fail(.unknownSubscription, "no subscription \(id)"); return }
            runner.enqueue(.moveArea(outlet, id, area, request: request))
        case .control(let token, let scene, let command):
            guard let expected = configuration.adminToken else {
                fail(.unauthorized, "control is disabled: the server has no admin token")
                return
            }
            if let wait = registry.auth.wait(for: outlet.address) {
                registry.metrics.authFailures.increment()
                fail(.unauthorized, "too many wrong admin tokens from \(outlet.address); control is refused for \(wait) s more")
                return
            }
            guard ConstantTime.equal(token, expected) else {
                registry.auth.recordFailure(outlet.address)
                registry.metrics.authFailures.increment()
                fail(.unauthorized, "wrong admin token")
                return
            }
            registry.auth.recordSuccess(outlet.address)
            if case .listClients = command {
                let lines = registry.outlets.map { "\($0.remote) queued \($0.queued) B sent \($0.sent) B skipped \($0.skipped)" }
                send(.controlResult(ok: true, message: lines.joined(separator: "\n")))
                return
            }
            guard let runner = registry.runners.first(where: { $0.name == scene }) else {
                send(.controlResult(ok: false, message: "no scene named '\(LogText.safe(scene))'"))
                return
            }
            logger.notice("control", metadata: ["scene": "\(LogText.safe(scene))", "command": "\(Self.describe(command))"])
            registry.metrics.controlActions.increment()
            runner.enqueue(.control(command, catalog: registry.catalog, reply: { ok, text in
                outlet.send(WireMessageBox(buffer: WireMessage.controlResult(ok: ok, message: text).frame()))
            }))
        case .ping(let nonce, let time):
            send(.pong(nonce: nonce, echoedMicros: time, serverTimeMicros: ServerClock.micros()))
        case .pong:
            break
        case .join(let request, let scene, let name, let start, let joinToken, let resumeToken):
            join(request: request, scene: scene, name: name, start: start, joinToken: joinToken, resumeToken: resumeToken)
        case .input(let participant, let sequence, let input):
            self.input(participant: participant, sequence: sequence, input: input)
        case .leave(let participant):
            leave(participant: participant)
        case .hello:
            fail(.unexpectedMessage, "Hello was already received")
        default:
            fail(.unexpectedMessage, "\(message.type) is a server-to-client message")
        }
    }
}

extension ClientSession {
    /// A control command for the log, its client-supplied strings made safe.
    static func describe(_ command: ControlCommand) -> String {
        if case .loadTile(let name) = command { return "loadTile(\(LogText.safe(name)))" }
        return "\(command)"
    }
}

/// Token comparison whose time does not depend on where the strings differ.
enum ConstantTime {
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}
