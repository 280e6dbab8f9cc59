import CityTiles
import CoreMetrics
import Logging
import NIOCore
import Scenarios
import SceneWire
import Synchronization

/// One client connection: handshake, subscriptions, control, pings, and the rules that
/// close a misbehaving client (and only that client) with an error code.
final class ClientSession: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WireMessage

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

    init(registry: ServerRegistry, configuration: ServerConfiguration, logger: Logger) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.buckets = RequestBuckets(configuration.requestLimits)
    }

    func channelActive(context: ChannelHandlerContext) {
        let outlet = SessionOutlet(channel: context.channel, id: registry.nextSessionId(), metrics: registry.metrics)
        self.outlet = outlet
        logger[metadataKey: "client"] = "\(outlet.remote)"
        guard registry.state != .draining && registry.state != .stopped else {
            fail(context, .serverShuttingDown, "the server is shutting down")
            return
        }
        let limit = registry.maxConnections.load(ordering: .relaxed)
        guard registry.add(outlet, limit: limit) else {
            fail(context, .tooManyConnections, "the server has its maximum of \(limit) connections")
            return
        }
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(configuration.handshakeTimeout * 1e9))) { [self] in
            if !ready { fail(context, .handshakeTimeout, "no Hello within \(configuration.handshakeTimeout) s") }
        }
        resetIdleTimer(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        idleTimer?.cancel()
        if let outlet {
            registry.remove(outlet)
            var seen = Set<ObjectIdentifier>()
            for runner in subscriptions.values where seen.insert(ObjectIdentifier(runner)).inserted {
                runner.enqueue(.dropSession(outlet))
            }
        }
        subscriptions.removeAll()
        context.fireChannelInactive()
    }

    func resetIdleTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(configuration.idleTimeout * 1e9))) { [self] in
            fail(context, .idleTimeout, "nothing received for \(configuration.idleTimeout) s (clients ping)")
        }
    }

    /// Sends a reply through the outlet, so its bytes count against the client's budget like
    /// state frames; a client that let its queue stand over the budget too long is closed.
    func send(_ context: ChannelHandlerContext, _ message: WireMessage) {
        guard let outlet else { return }
        if outlet.stalled(budget: configuration.outboundBudgetBytes, timeout: configuration.drainTimeout) {
            registry.metrics.slowClientsClosed.increment()
            fail(context, .tooSlow, "over \(configuration.outboundBudgetBytes) queued bytes for more than \(configuration.drainTimeout) s without reading")
            return
        }
        outlet.send(WireMessageBox(buffer: message.frame(allocator: context.channel.allocator)))
    }

    /// Sends an error with its code, then closes this client only. The log line is rate
    /// limited across clients (a flood of bad connections cannot flood the log).
    func fail(_ context: ChannelHandlerContext, _ code: ErrorCode, _ message: String) {
        guard !closing else { return }
        closing = true
        if let suppressed = registry.closeLog.admit() {
            var meta: Logger.Metadata = ["code": "\(code)", "reason": "\(message)"]
            if suppressed > 0 { meta["suppressed"] = "\(suppressed)" }
            logger.info("closing client", metadata: meta)
        }
        let frame = WireMessage.error(code: code.rawValue, message: message).frame(allocator: context.channel.allocator)
        // Refusals at the door (the connection cap, a drain) close at once, so they never hold
        // descriptors. A session that broke a rule gets a lingering close: its output is shut
        // (FIN after the Error), what it still sends is dropped for `lingerSeconds`, then the
        // socket closes; closing at once over unread input would send a reset, and the client
        // could lose the Error before reading it.
        let linger = code != .tooManyConnections && code != .serverShuttingDown
        context.writeAndFlush(NIOAny(frame)).assumeIsolated().whenComplete { _ in
            guard linger else { context.close(promise: nil); return }
            let halfClosed = context.eventLoop.makePromise(of: Void.self)
            context.close(mode: .output, promise: halfClosed)
            halfClosed.futureResult.assumeIsolated().whenComplete { result in
                if case .failure = result { context.close(promise: nil); return }
                context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(Self.lingerSeconds * 1e9))) { context.close(promise: nil) }
            }
        }
    }

    /// Seconds a closing session's input is drained before its socket closes.
    static let lingerSeconds = 2.0

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .truncated(let what)? = error as? WireError, what.hasPrefix("frame:") {
            // The client went away mid-frame: counted and logged (rate limited), nothing to answer.
            registry.metrics.framesTruncated.increment()
            if registry.closeLog.admit() != nil { logger.info("client frame truncated by the end of its stream", metadata: ["detail": "\(what)"]) }
            closing = true
            context.close(promise: nil)
        } else if let e = error as? WireError {
            fail(context, e.code, e.description)
        } else if let e = error as? ByteToMessageDecoderError {
            fail(context, .malformedFrame, "\(e)")
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, let outlet else { return }
        let message = unwrapInboundIn(data)
        resetIdleTimer(context)
        if let exceeded = buckets.admit(message, now: context.eventLoop.now, limits: configuration.requestLimits) {
            registry.metrics.requestsLimited.increment()
            fail(context, .rateLimited, exceeded)
            return
        }
        guard ready else {
            guard case .hello(let minV, let maxV, let client) = message else {
                fail(context, .unexpectedMessage, "the first message must be Hello, got \(message.type)")
                return
            }
            guard minV <= WireProtocol.version, maxV >= WireProtocol.minimumVersion, minV <= maxV else {
                fail(context, .versionUnsupported, "this server speaks protocol \(WireProtocol.minimumVersion)...\(WireProtocol.version); the client asked for \(minV)...\(maxV)")
                return
            }
            ready = true
            version = min(maxV, WireProtocol.version)
            handshakeTimer?.cancel()
            logger[metadataKey: "clientName"] = "\(LogText.safe(client))"
            logger.debug("client connected")
            send(context, .welcome(version: version, maxFrameBytes: UInt32(clamping: registry.maxServerFrameBytes),
                                   serverTimeMicros: ServerClock.micros(), server: configuration.serverName))
            return
        }
        // Messages of another version than the session's: version 2 moves areas with a request
        // id (MoveAreaRequest); version 1 has no MoveAreaRequest.
        guard message.type.since <= version, message.type.until >= version else {
            fail(context, .unexpectedMessage, "\(message.type) is not part of protocol version \(version), which this session speaks")
            return
        }
        switch message {
        case .listScenes:
            send(context, .sceneList(registry.runners.map {
                SceneSummary(name: $0.name, scenario: $0.scenario.rawValue, entities: UInt32($0.entities), tickRate: UInt16($0.tickRate))
            }))
        case .subscribe(let id, let scene, let area):
            guard let runner = registry.runners.first(where: { $0.name == scene }) else {
                fail(context, .unknownScene, "no scene named '\(LogText.safe(scene))'; scenes: \(registry.runners.map(\.name).joined(separator: ", "))")
                return
            }
            guard subscriptions[id] == nil else { fail(context, .unexpectedMessage, "subscription \(id) is already in use"); return }
            guard subscriptions.count < configuration.maxSubscriptionsPerClient else {
                fail(context, .tooManySubscriptions, "at most \(configuration.maxSubscriptionsPerClient) subscriptions per client")
                return
            }
            subscriptions[id] = runner
            send(context, runner.info.message(subscription: id, version: version))
            runner.enqueue(.subscribe(outlet, id, area, version: version))
        case .unsubscribe(let id):
            guard let runner = subscriptions.removeValue(forKey: id) else { fail(context, .unknownSubscription, "no subscription \(id)"); return }
            runner.enqueue(.unsubscribe(outlet, id))
        case .moveArea(let id, let area):
            guard let runner = subscriptions[id] else { fail(context, .unknownSubscription, "no subscription \(id)"); return }
            runner.enqueue(.moveArea(outlet, id, area, request: nil))
        case .moveAreaRequest(let id, let request, let area):
            guard let runner = subscriptions[id] else { fail(context, .unknownSubscription, "no subscription \(id)"); return }
            runner.enqueue(.moveArea(outlet, id, area, request: request))
        case .control(let token, let scene, let command):
            guard let expected = configuration.adminToken else {
                fail(context, .unauthorized, "control is disabled: the server has no admin token")
                return
            }
            if let wait = registry.auth.wait(for: outlet.address) {
                registry.metrics.authFailures.increment()
                fail(context, .unauthorized, "too many wrong admin tokens from \(outlet.address); control is refused for \(wait) s more")
                return
            }
            guard ConstantTime.equal(token, expected) else {
                registry.auth.recordFailure(outlet.address)
                registry.metrics.authFailures.increment()
                fail(context, .unauthorized, "wrong admin token")
                return
            }
            registry.auth.recordSuccess(outlet.address)
            if case .listClients = command {
                let lines = registry.outlets.map { "\($0.remote) queued \($0.queued) B sent \($0.sent) B skipped \($0.skipped)" }
                send(context, .controlResult(ok: true, message: lines.joined(separator: "\n")))
                return
            }
            guard let runner = registry.runners.first(where: { $0.name == scene }) else {
                send(context, .controlResult(ok: false, message: "no scene named '\(LogText.safe(scene))'"))
                return
            }
            logger.notice("control", metadata: ["scene": "\(LogText.safe(scene))", "command": "\(Self.describe(command))"])
            registry.metrics.controlActions.increment()
            runner.enqueue(.control(command, catalog: registry.catalog, reply: { ok, text in
                outlet.send(WireMessageBox(buffer: WireMessage.controlResult(ok: ok, message: text).frame()))
            }))
        case .ping(let nonce, let time):
            send(context, .pong(nonce: nonce, echoedMicros: time, serverTimeMicros: ServerClock.micros()))
        case .pong:
            break
        case .hello:
            fail(context, .unexpectedMessage, "Hello was already received")
        default:
            fail(context, .unexpectedMessage, "\(message.type) is a server-to-client message")
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
