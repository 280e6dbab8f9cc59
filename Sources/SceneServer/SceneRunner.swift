import CoreMetrics
import Dispatch
import Foundation
import Logging
import NATSClient
import NIOCore
import Scenarios
import SceneCore
import SceneWire
import ServiceLifecycle
import Synchronization

/// Runs one scene: a swift-service-lifecycle `Service` whose own thread owns the scene, ticks
/// it at a fixed rate, codes its state and fans it out to every subscription.
///
/// The scene is handed to the tick thread when it starts and never leaves it: the thread
/// builds its `RunnerState` (subscriptions, encoder, time control) and is its only user.
/// Sessions talk to it through `enqueue`, a queue the thread drains at each tick boundary;
/// catalog work (a reset's reload, loading a tile) runs on another thread and comes back
/// through the same queue. Everything else here is immutable or atomic.
public final class SceneRunner: Service, Sendable {
    public let name: String
    public let scenario: ScenarioKind
    public let tickRate: Int
    /// The scene's information; `subscription` is set per subscriber when sent.
    public let info: SceneInfoMessage
    let logger: Logger
    let metrics: ServerMetrics
    let sceneMetrics: SceneMetrics
    let outboundBudget: Int
    /// Seconds a subscriber may stay over its budget without draining (then Error 17).
    let drainTimeout: Double
    /// The largest frame this runner sends: the configured limit, raised to what the scene
    /// can make (every entity in keyframes, four times its whole static geometry).
    let maxFrameBytes: Int
    /// Where the scene's input log is written (`--input-log`); nil keeps none.
    let inputLogDirectory: String?
    /// Who may join, and the participants' limits (nil: nobody can join).
    public let joinPolicy: JoinPolicy
    public let participantLimits: HumanLimits?
    /// The event kinds every subscriber gets, whatever its area (a leaderboard, a goal).
    let sceneWideEvents: Set<UInt16>

    private let handoff: Mutex<LoadedScene?>
    /// The feed on NATS: where a scene's process publishes (set before `start`), or where a
    /// gateway's relay reads (Feed/RelayState.swift).
    private let feed = Mutex<NATSConnection?>(nil)
    /// A gateway's relay of a scene served elsewhere; nil for a scene of this process.
    let relay: FeedScene?
    private let commands = Mutex<[RunnerCommand]>([])
    private let lifecycle = Mutex<Lifecycle>(.notStarted)
    let stopRequested = Atomic<Bool>(false)
    let tickCounter = Atomic<UInt64>(0)
    let entityCounter = Atomic<Int>(0)
    let overrunCounter = Atomic<Int>(0)
    let subscriberCounter = Atomic<Int>(0)

    private enum Lifecycle {
        case notStarted
        case running(waiters: [CheckedContinuation<Void, Never>])
        case finished
    }

    /// The region of the scene this runner ticks when it is split into region shards.
    let region: RegionAssignment?

    public init(scene: sending LoadedScene, logger: Logger, outboundBudget: Int = 1 << 20, drainTimeout: Double = 10,
                maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes, metrics: ServerMetrics = ServerMetrics(),
                inputLogDirectory: String? = nil, region: RegionAssignment? = nil) {
        self.inputLogDirectory = inputLogDirectory
        self.region = region
        // A region shard takes no participants (docs/SCALEOUT.md).
        let joinable = scene.joinable && region == nil
        self.joinPolicy = joinable ? scene.manifest.participants : .closed
        self.participantLimits = joinable ? scene.scenario.participantHost?.limits : nil
        self.metrics = metrics
        self.drainTimeout = drainTimeout
        self.sceneMetrics = metrics.scene(scene.manifest.name)
        self.outboundBudget = outboundBudget
        let m = scene.manifest
        self.name = m.name
        self.scenario = m.scenario
        self.sceneWideEvents = Set(scene.scenario.sceneWideEvents.map(\.rawValue))
        self.tickRate = m.tickRate
        let bounds = scene.world.bounds
        let encoder = RunnerState.encoder(for: scene)
        self.info = SceneInfoMessage(
            subscription: 0, scene: m.name, epsg: UInt32(scene.epsg), originX: scene.origin.x, originY: scene.origin.y, quantum: m.quantum,
            tickRate: UInt16(m.tickRate),
            bounds: WireArea(minX: Double(bounds.minX), minY: Double(bounds.minY), maxX: Double(bounds.maxX), maxY: Double(bounds.maxY)),
            cellSize: m.wireCellSize, cellColumns: UInt16(encoder.columns), cellRows: UInt16(encoder.rows),
            kinds: scene.scenario.kinds.map { kind in
                KindInfo(code: kind.code, name: kind.name,
                         attributes: scene.world.attributes.specs(kind: kind.code).map { AttributeInfo(name: $0.name, type: $0.type.rawValue) },
                         zRange: scene.scenario.heightKinds[kind.code])
            })
        // A keyframe entity costs at most 26 bytes (id, kind, two positions and velocities as
        // varints; 20 more with a height), a block header 16; static geometry is measured, with
        // room for tiles loaded later.
        let entityBound = scene.scenario.heightKinds.isEmpty ? 26 : 46
        let stateBound = scene.world.store.capacity * entityBound + encoder.columns * encoder.rows * 16 + 64
        let geometry = RunnerState.staticGeometryMessage(subscription: 0, footprints: scene.footprints, area: nil, quantum: m.quantum).frame().readableBytes
        // The largest frame this scene can make is what Welcome's limit must allow.
        self.maxFrameBytes = max(maxFrameBytes, stateBound, 4 * geometry)
        self.logger = logger
        entityCounter.store(scene.world.store.count, ordering: .relaxed)
        self.handoff = Mutex(scene)
        self.relay = nil
    }

    /// A gateway's relay of a scene another process runs (docs/SCALEOUT.md): its info from
    /// the feed, its state frames made of the feed's blocks; participants' messages go to the
    /// scene's process (RelayState+Desk.swift).
    package init(relay: FeedScene, connection: NATSConnection, logger: Logger, outboundBudget: Int = 1 << 20, drainTimeout: Double = 10,
                 metrics: ServerMetrics) throws {
        guard let scenario = ScenarioKind(rawValue: relay.scenario) else { throw FeedError.unknownScenario(relay.scenario) }
        self.relay = relay
        self.region = nil
        self.inputLogDirectory = nil
        // As the scene's process says it, for /api/scenes; its token (never sent) is checked there.
        let access: JoinPolicy.Access = switch relay.joinAccess { case 1: .open; case 2: .token(""); default: .closed }
        self.joinPolicy = JoinPolicy(access: access, maxParticipants: Int(relay.maxParticipants))
        self.participantLimits = nil
        self.metrics = metrics
        self.drainTimeout = drainTimeout
        self.sceneMetrics = metrics.scene(relay.name)
        self.outboundBudget = outboundBudget
        self.name = relay.name
        self.scenario = scenario
        self.sceneWideEvents = Set(relay.sceneWideEvents)
        self.tickRate = Int(relay.info.tickRate)
        self.info = relay.info
        self.maxFrameBytes = relay.maxFrameBytes
        self.logger = logger
        self.handoff = Mutex(nil)
        self.feed.withLock { $0 = connection }
        entityCounter.store(Int(relay.entities), ordering: .relaxed)
    }

    /// Back-pressure, the same for a scene's runner and a gateway's relay: a subscriber over
    /// its budget for longer than the drain timeout is closed (Error 17); one over its budget
    /// skips this tick and gets a resync later. False when it gets no frame this tick.
    func admits(_ s: Subscription) -> Bool {
        if s.outlet.stalled(budget: outboundBudget, timeout: drainTimeout) {
            if !s.outlet.closing.load(ordering: .relaxed) { metrics.slowClientsClosed.increment() }
            s.outlet.closeWithError(.tooSlow, "over \(outboundBudget) queued bytes for more than \(drainTimeout) s without reading")
            return false
        }
        if s.outlet.queued > outboundBudget {
            s.needsResync = true
            s.outlet.ticksSkipped.add(1, ordering: .relaxed)
            metrics.framesSkipped.increment()
            return false
        }
        return true
    }

    /// The scene's process publishes its feed on `connection` (before `start`).
    func attachFeed(_ connection: NATSConnection) { feed.withLock { $0 = connection } }

    var feedConnection: NATSConnection? { feed.withLock { $0 } }

    /// Ticks done so far.
    public var tick: UInt64 { tickCounter.load(ordering: .relaxed) }
    public var entities: Int { entityCounter.load(ordering: .relaxed) }
    public var overruns: Int { overrunCounter.load(ordering: .relaxed) }
    public var subscribers: Int { subscriberCounter.load(ordering: .relaxed) }

    /// Hands a command to the tick thread; it is applied at the next tick boundary.
    func enqueue(_ c: RunnerCommand) {
        commands.withLock { $0.append(c) }
        if relay != nil { wake.signal() }
    }

    /// Wakes a relay's thread: a command or a feed message is waiting.
    let wake = DispatchSemaphore(value: 0)

    /// The commands queued since the last call (the tick thread's side of `enqueue`).
    func takeCommands() -> [RunnerCommand] {
        commands.withLock { list in defer { list.removeAll(keepingCapacity: true) }; return list }
    }

    /// `Service`: runs the tick thread until a graceful shutdown or cancellation.
    public func run() async {
        start()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await finished()
            } onGracefulShutdown: {
                self.requestStop()
            }
        } onCancel: {
            self.requestStop()
        }
    }

    /// Starts the tick thread (once; later calls do nothing).
    public func start() {
        let starting = lifecycle.withLock { state -> Bool in
            guard case .notStarted = state else { return false }
            state = .running(waiters: [])
            return true
        }
        guard starting else { return }
        let thread = Thread { [self] in
            if let relay, let connection = feedConnection {
                RelayState(runner: self, scene: relay, connection: connection).run()
            } else if let scene = handoff.withLock({ s -> sending LoadedScene? in let v = s; s = nil; return v }) {
                RunnerState(scene: scene, runner: self).run()
            }
            let waiters = lifecycle.withLock { state -> [CheckedContinuation<Void, Never>] in
                defer { state = .finished }
                if case .running(let w) = state { return w }
                return []
            }
            for w in waiters { w.resume() }
        }
        thread.name = "scene-\(name)"
        thread.start()
    }

    /// Asks the tick thread to stop after the current tick (subscribers get a Goodbye).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Returns once the tick thread has finished (at once if it never started).
    public func finished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = lifecycle.withLock { state -> Bool in
                switch state {
                case .notStarted, .finished: return true
                case .running(var w): w.append(c); state = .running(waiters: w); return false
                }
            }
            if now { c.resume() }
        }
    }

    /// Stops the tick thread and waits for it.
    public func stop() async {
        requestStop()
        await finished()
    }
}

extension SceneInfoMessage {
    /// The same scene information for another subscription, in a session's version.
    func message(subscription: UInt32, version: UInt16) -> WireMessage {
        var m = self
        m.subscription = subscription
        m.version = min(version, 2)
        if version < 2 { for k in m.kinds.indices { m.kinds[k].zRange = nil } }
        return .sceneInfo(m)
    }
}
