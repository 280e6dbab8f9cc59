import CityTiles
import CoreMetrics
import Dispatch
import Foundation
import Logging
import NIOCore
import Scenarios
import SceneCore
import SceneWire
import Synchronization

/// One client's subscription to the scene, owned by the tick thread.
final class Subscription {
    let outlet: SessionOutlet
    let id: UInt32
    /// The session's protocol version.
    let version: UInt16
    var area: WireArea?
    var covered: Set<Int> = [] { didSet { coveredSorted = covered.sorted() } }
    var coveredSorted: [Int] = []
    var sentCells: Set<Int> = []
    var needsResync = true
    var needsStatic = true
    /// The (rounded) area whose static geometry this subscriber was sent last; nil before any.
    var geometrySent: WireArea??
    /// Version 2: the last MoveAreaRequest applied since the last frame; AreaMoved answers it
    /// before the frame from which its area applies.
    var movedRequest: UInt32?
    /// Version 2 with an area: the slots inside the area at the last frame and at the one
    /// before, and the slots whose identity this subscriber was sent.
    var inView = SlotBits(), previousView = SlotBits(), told = SlotBits()
    /// Version 3 with an area: the covered cells its view was last rebuilt for (views are of
    /// the covered cells there, kept up to date by the cells' comings and goings).
    var viewCells: [Int]?

    init(outlet: SessionOutlet, id: UInt32, area: WireArea?, version: UInt16) {
        self.outlet = outlet; self.id = id; self.area = area; self.version = version
    }

    /// Version 2 and an area: attributes, events and identities are filtered by the area.
    var filtersByArea: Bool { version >= 2 && area != nil }
}

/// The tick thread's state: the scene, its encoder, the subscriptions and time control.
/// Made on the tick thread by `SceneRunner` and used by that thread alone.
final class RunnerState {
    let runner: SceneRunner
    var scene: LoadedScene
    var encoder: SceneStateEncoder
    /// In a scene with height kinds, version 2 subscribers get a stream of their own that
    /// codes z with x and y (`encoder3`); version 1 subscribers keep `encoder`'s.
    var encoder3: SceneStateEncoder?
    var lastBlocks3 = TickBlocks.empty
    var keyframes3: [Int: ByteBuffer?] = [:]
    /// Per height kind, the index of its attribute z: the value `encoder3` codes, which
    /// version 2 subscribers are therefore not sent as an attribute.
    var heightAttribute: [UInt8: UInt8] = [:]
    var subscriptions: [Subscription] = []
    var paused = false
    var stepsLeft = 0
    var speed = 1.0
    /// A reset or tile load whose catalog work runs on another thread.
    var catalogWorkPending = false
    var lastBlocks = TickBlocks.empty
    var keyframes: [Int: ByteBuffer?] = [:]
    var tickTimeMicros: UInt64 = 0
    /// Scenario events of the last tick, sent to every subscriber of the scene.
    var pendingEvents: [SceneEvent] = []
    /// Attribute values that changed in the last tick, sent to every subscriber.
    var pendingAttributes: [WireAttribute] = []
    /// Per slot: the generation of its live entity plus one (0: empty) as of the last encode,
    /// and the slots whose entity is new since the encode before (spawned, or a slot reused).
    var aliveGeneration: [UInt32] = []
    var newSlots: [UInt32] = []
    /// Set by each encode until the fan-out has forgotten the new slots (`forgetNewSlots`).
    var newSlotsUnseen = false
    /// Each live slot's identity once asked (a scenario's identities do not change while the
    /// entity lives).
    var identityCache: [WireEntityInfo?] = []
    var identityAsked = SlotBits()
    /// Whether version 2 area subscriptions need their per-subscriber views: not in a scene
    /// of anonymous entities without attributes (nothing to filter).
    var viewsNeeded = true
    /// This tick's identities coded once for whole-scene subscribers: every entity (after a
    /// resync) and the entities new this tick.
    var identityAllFrames: [SharedFrame]?
    var identityNewFrames: [SharedFrame]?
    /// This tick's messages coded once for every subscriber: the attribute snapshot, the
    /// attribute changes, the events (each possibly in several messages under the frame limit).
    /// Keyed by whether the heights are left out (version 2 in a scene with height kinds).
    var snapshotFrames: [Bool: [SharedFrame]] = [:]
    var changeFrames: [Bool: [SharedFrame]] = [:]
    var eventFrames: [SharedFrame]?
    /// Static geometry coded once per area (nil: the whole scene); cleared when the obstacles
    /// change, and when it holds `geometryCacheLimit` areas (clients choose areas freely).
    var geometryFrames: [WireArea?: SharedFrame] = [:]
    static let geometryCacheLimit = 256
    /// Bytes of static geometry and attribute snapshots queued this tick. Past
    /// `resyncBudgetPerTick`, further newcomers wait for the next tick, so a storm of
    /// subscriptions cannot hold the tick.
    var resyncBytesThisTick = 0
    static let resyncBudgetPerTick = 16 << 20
    /// Participants on the network side (joins, inputs, drops, acknowledgements).
    var desk: ParticipantDesk
    /// Where the input log goes (`--input-log`), and how many resets have started a new one.
    var logWriter: InputLogWriter?
    var logResets = 0
    /// Each cell's ids at the encode before the last, and, computed on first use each tick,
    /// who entered and left each cell since (version 3's area views follow these).
    var previousCellIds: [[UInt32]] = []
    var cellDiffs: [Int: CellDiff] = [:]
    /// Events dropped over the per-tick cap since the last log line about them.
    var droppedSinceLog = 0
    /// The scene's feed on NATS, when the server has one (Feed/ScenePublisher.swift).
    var feed: ScenePublisher?
    /// A region shard's lockstep with its neighbours (Feed/RegionLink.swift), and the cells
    /// of its region (the ones it publishes).
    var region: RegionLink?
    var regionCells: Set<Int> = []
    var lastDropLog: UInt64 = 0

    init(scene: LoadedScene, runner: SceneRunner) {
        self.runner = runner
        self.scene = scene
        self.encoder = Self.encoder(for: scene)
        self.desk = ParticipantDesk(policy: scene.manifest.participants, tickRate: scene.manifest.tickRate, metrics: runner.metrics,
                                    scene: scene.name)
        useHeights(of: scene)
        if let assignment = runner.region, let connection = runner.feedConnection {
            do {
                let shard = try RegionShard(scene: scene, regions: assignment.regions, borders: assignment.borders, index: assignment.index)
                region = RegionLink(shard: shard, connection: connection, assignment: assignment, logger: runner.logger, metrics: runner.metrics)
                regionCells = Set(shard.layout.cells(of: assignment.index, rows: encoder.rows))
                runner.logger.info("region shard", metadata: [
                    "region": "\(assignment.index)", "of": "\(shard.layout.regions)", "columns": "\(shard.layout.starts[assignment.index])..<\(shard.layout.starts[assignment.index + 1])",
                    "entities": "\(shard.owned)", "ghosts": "\(shard.ghosts.count)"])
            } catch {
                runner.logger.error("the scene cannot run as a region shard; it stops", metadata: ["error": "\(error)"])
                runner.requestStop()
            }
        }
        encode()
        startInputLog()
        if let connection = runner.feedConnection {
            feed = ScenePublisher(connection: connection, scene: scene.name, columns: encoder.columns, rows: encoder.rows, metrics: runner.metrics)
        }
    }

    /// Opens the scene's input log when the server keeps one: `DIR/NAME.inputs`, after a
    /// reset `DIR/NAME.resetN.inputs`.
    func startInputLog() {
        guard let dir = runner.inputLogDirectory else { return }
        let file = logResets == 0 ? "\(runner.name).inputs" : "\(runner.name).reset\(logResets).inputs"
        do {
            let w = try InputLogWriter(path: dir + "/" + file, logger: runner.logger)
            w.write(InputLog.header)
            logWriter = w
            scene.roster.log = InputLog()
        } catch {
            runner.logger.error("no input log", metadata: ["error": "\(error)"])
        }
    }

    /// Ends the input log with the state hash of the last tick and closes it.
    func endInputLog() {
        guard let w = logWriter else { return }
        scene.roster.log?.append(tick: scene.world.tick, .hash(scene.world.stateHash()))
        w.write(scene.roster.log?.takeText() ?? "")
        w.close()
        logWriter = nil
    }

    /// Ticks between the state-hash checkpoints of an input log (a minute of the scene).
    var checkpointTicks: UInt64 { UInt64(60 * runner.tickRate) }

    /// Applies a tick boundary's commands: participants away too long leave first, then the
    /// commands in the order they came, except inputs, which go last in the order of
    /// participant and sequence number (a defined order, whatever the network's interleaving).
    func applyBoundary(_ commands: [RunnerCommand]) {
        if logWriter != nil, scene.world.tick > 0, scene.world.tick % checkpointTicks == 0 {
            scene.roster.log?.append(tick: scene.world.tick, .hash(scene.world.stateHash()))
        }
        desk.expire(scene: scene)
        var inputs: [(outlet: any ParticipantLink, participant: UInt32, sequence: UInt32, input: WireInput)] = []
        for c in commands {
            if case .input(let outlet, let p, let seq, let input) = c { inputs.append((outlet, p, seq, input)) } else { apply(c) }
        }
        inputs.sort { ($0.participant, $0.sequence) < ($1.participant, $1.sequence) }
        for i in inputs { desk.input(i.input, participant: i.participant, sequence: i.sequence, from: i.outlet, scene: scene) }
        if let w = logWriter, let text = scene.roster.log?.takeText() { w.write(text) }
    }

    static func encoder(for scene: LoadedScene, heights: Bool = false) -> SceneStateEncoder {
        let b = scene.world.bounds
        let h = heights ? HeightKinds(scene.scenario.heightKinds, quantum: scene.manifest.quantum) : nil
        return SceneStateEncoder(bounds: WireArea(minX: Double(b.minX), minY: Double(b.minY), maxX: Double(b.maxX), maxY: Double(b.maxY)),
                                 quantum: scene.manifest.quantum, cellSize: scene.manifest.wireCellSize, heights: h)
    }

    /// Sets up the version 2 stream with heights for a scene with height kinds.
    func useHeights(of scene: LoadedScene) {
        viewsNeeded = !scene.scenario.anonymous || scene.world.attributes.hasAttributes
        heightAttribute = [:]
        for kind in scene.scenario.heightKinds.keys {
            if let a = scene.world.attributes.specs(kind: kind).firstIndex(where: { $0.name == "z" && $0.type == .float32 }) { heightAttribute[kind] = UInt8(a) }
        }
        encoder3 = scene.scenario.heightKinds.isEmpty ? nil : Self.encoder(for: scene, heights: true)
        lastBlocks3 = .empty
    }

    /// Whether a subscription gets the stream with heights.
    func usesHeights(_ s: Subscription) -> Bool { s.version >= 2 && encoder3 != nil }

    /// The tick loop: commands at each tick boundary, then the tick (unless paused), then the
    /// fan-out, at a fixed rate without drift.
    func run() {
        var period = 1.0 / Double(runner.tickRate)
        var anchor = DispatchTime.now().uptimeNanoseconds
        var scheduled: UInt64 = 0
        while !runner.stopRequested.load(ordering: .relaxed) {
            applyBoundary(runner.takeCommands())
            let advance = !paused || stepsLeft > 0
            let newPeriod = 1.0 / (Double(runner.tickRate) * speed)
            if newPeriod != period {
                period = newPeriod
                anchor = DispatchTime.now().uptimeNanoseconds
                scheduled = 0
            }
            let tickStart = DispatchTime.now().uptimeNanoseconds
            if advance {
                if stepsLeft > 0 { stepsLeft -= 1 }
                if let region {
                    absorb(region.shard.tick())
                    region.exchange()
                    pendingEvents += region.shard.takeRankEvents()
                } else {
                    absorb(scene.tick())
                }
                encode()
                runner.tickCounter.store(scene.world.tick, ordering: .relaxed)
                runner.entityCounter.store(scene.world.store.count, ordering: .relaxed)
            }
            // The feed first: a gateway serves many clients from it.
            publishFeed(advanced: advance)
            publish(advanced: advance)
            if advance { desk.sendAcks(tick: scene.world.tick, world: scene.world) }
            runner.subscriberCounter.store(subscriptions.count, ordering: .relaxed)
            if advance {
                runner.sceneMetrics.tickDuration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - tickStart))
                runner.sceneMetrics.entities.record(scene.world.store.count)
                runner.sceneMetrics.ticks.increment()
            }
            // Fixed rate without drift: tick N is due at anchor + N * period. An overrun is
            // counted and the schedule re-anchored, so late ticks are not run back to back.
            scheduled += 1
            let due = anchor + UInt64(Double(scheduled) * period * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if now > due + UInt64(period * 1e9) {
                runner.overrunCounter.add(1, ordering: .relaxed)
                runner.sceneMetrics.overruns.increment()
                anchor = now
                scheduled = 0
            } else if now < due {
                // Sleep in short slices so a stop is noticed quickly.
                while DispatchTime.now().uptimeNanoseconds < due && !runner.stopRequested.load(ordering: .relaxed) {
                    let left = due - min(due, DispatchTime.now().uptimeNanoseconds)
                    usleep(UInt32(min(left / 1000, 50_000)))
                }
            }
        }
        endInputLog()
        for s in subscriptions { s.outlet.send(WireMessageBox(buffer: WireMessage.goodbye(reason: "scene \(runner.name) stopped").frame())) }
        subscriptions.removeAll()
        runner.subscriberCounter.store(0, ordering: .relaxed)
    }

    func apply(_ command: RunnerCommand) {
        switch command {
        case .subscribe(let outlet, let id, let area, let version):
            let s = Subscription(outlet: outlet, id: id, area: area, version: version)
            s.covered = Set(encoder.cells(covering: area))
            subscriptions.append(s)
        case .unsubscribe(let outlet, let id):
            subscriptions.removeAll { $0.outlet === outlet && $0.id == id }
        case .moveArea(let outlet, let id, let area, let request):
            for s in subscriptions where s.outlet === outlet && s.id == id {
                // Moves faster than ticks coalesce: the last one applies, once, from the next frame.
                s.area = area
                if let request { s.movedRequest = request }
                s.covered = Set(encoder.cells(covering: area))
                s.needsStatic = true
            }
        case .dropSession(let outlet):
            subscriptions.removeAll { $0.outlet === outlet }
            desk.drop(outlet, scene: scene)
        case .join(let outlet, let request):
            desk.join(request, outlet: outlet, scene: scene)
        case .input(let outlet, let p, let seq, let input):
            desk.input(input, participant: p, sequence: seq, from: outlet, scene: scene)
        case .leave(let outlet, let p):
            desk.leave(participant: p, from: outlet, scene: scene)
        case .dropLink(let link):
            desk.drop(link, scene: scene)
        case .control(let command, let catalog, let reply):
            control(command, catalog: catalog, reply: reply)
        case .tileReady(let result, let reply):
            catalogWorkPending = false
            switch result {
            case .success(let tile):
                let moved = scene.apply(tile)
                geometryFrames.removeAll()
                feed?.geometryChanged = true
                for s in subscriptions { s.needsStatic = true; s.geometrySent = nil }
                reply(true, "tile \(tile.name) loaded at tick \(scene.world.tick): \(scene.footprints.count) obstacles, \(moved) entities moved out of new buildings")
            case .failure(let error):
                reply(false, "\(error)")
            }
        case .sceneReady(let pending, let seed, let reply):
            catalogWorkPending = false
            switch pending.take() {
            case .success(let fresh)?:
                fresh.world.workers = scene.world.workers
                endInputLog()
                desk.sceneReplaced()
                scene = fresh
                logResets += 1
                startInputLog()
                geometryFrames.removeAll()
                aliveGeneration.removeAll()
                identityCache.removeAll()
                identityAsked = SlotBits()
                encoder = Self.encoder(for: fresh)
                useHeights(of: fresh)
                encode()
                for s in subscriptions { s.needsResync = true; s.needsStatic = true; s.geometrySent = nil; s.sentCells = [] }
                feed?.reset = true
                runner.tickCounter.store(0, ordering: .relaxed)
                reply(true, "reset with seed \(seed): tick 0, \(fresh.world.store.count) entities")
            case .failure(let error)?:
                reply(false, "reset failed: \(error)")
            case nil:
                reply(false, "reset failed: the new scene was already taken")
            }
        case .feedKeys(let request, let reply):
            feed?.pendingKeys.append((request, reply))
        case .feedBroken:
            break
        }
    }

    func control(_ command: ControlCommand, catalog: Catalog?, reply: @escaping ControlReply) {
        if region != nil, command != .listClients {
            reply(false, "this process runs one region of the scene: pause, step, speed, reset, tiles and faults are not served by region shards yet (docs/SCALEOUT.md)")
            return
        }
        switch command {
        case .pause:
            // Pausing also ends any steps still to run: a paused scene does not advance.
            paused = true; stepsLeft = 0
            reply(true, "paused at tick \(scene.world.tick)")
        case .resume: paused = false; stepsLeft = 0; reply(true, "resumed at tick \(scene.world.tick)")
        case .step(let n):
            guard paused else { reply(false, "step needs the scene paused first"); return }
            stepsLeft += Int(n); reply(true, "stepping \(n) ticks from \(scene.world.tick)")
        case .speed(let f):
            guard f.isFinite, f >= 0.05, f <= 20 else { reply(false, "speed must be between 0.05 and 20"); return }
            speed = Double(f); reply(true, "speed \(f)x")
        case .reset(let seed):
            guard !catalogWorkPending else { reply(false, "busy: a reset or tile load is still in progress"); return }
            catalogWorkPending = true
            // Rebuild the scene from its manifest with the new seed, off the tick thread; it
            // replaces the running one at a tick boundary and every subscriber resyncs.
            var next = scene.manifest
            next.seed = seed
            let manifest = next
            let workers = scene.world.workers, runner = self.runner
            DispatchQueue.global().async {
                let result = Result { try SceneLoader.load(manifest, catalog: catalog ?? Catalog(), workers: workers) }
                runner.enqueue(.sceneReady(PendingScene(result), seed: seed, reply: reply))
            }
        case .loadTile(let name):
            guard let catalog else { reply(false, "this server has no catalog"); return }
            guard !catalogWorkPending else { reply(false, "busy: a reset or tile load is still in progress"); return }
            catalogWorkPending = true
            let plan = scene.tilePlan, runner = self.runner
            DispatchQueue.global().async {
                runner.enqueue(.tileReady(Result { try plan.prepare(name, catalog: catalog) }, reply: reply))
            }
        case .fault(let entity):
            if scene.scenario.injectFault(slot: entity, in: scene.world) {
                reply(true, "entity \(entity) is in fault")
            } else {
                reply(false, "entity \(entity) cannot be put into fault in this scene")
            }
        case .listClients:
            let lines = subscriptions.map { "\($0.outlet.remote) subscription \($0.id) queued \($0.outlet.queued) B skipped \($0.outlet.skipped)" }
            reply(true, lines.isEmpty ? "no subscribers" : lines.joined(separator: "\n"))
        }
    }

    /// Takes a tick's events and attribute changes for the fan-out; counts and logs events
    /// over the per-tick cap (one log line per 10 s at most, with the count).
    func absorb(_ output: TickOutput) {
        pendingEvents = output.events
        pendingAttributes = output.attributeChanges.map { WireAttribute(entity: $0.slot, attribute: $0.attribute, bits: $0.bits) }
        guard output.droppedEvents > 0 else { return }
        runner.metrics.eventsDropped.increment(by: Int64(output.droppedEvents))
        droppedSinceLog += output.droppedEvents
        let now = DispatchTime.now().uptimeNanoseconds
        if now - lastDropLog > 10_000_000_000 || lastDropLog == 0 {
            runner.logger.warning("events dropped over the per-tick cap", metadata: [
                "dropped": "\(droppedSinceLog)", "cap": "\(LoadedScene.maxEventsPerTick)", "tick": "\(output.tick)"])
            droppedSinceLog = 0
            lastDropLog = now
        }
    }

    /// Codes the world's current state into per-cell delta blocks.
    func encode() {
        snapshotFrames.removeAll(keepingCapacity: true)
        changeFrames.removeAll(keepingCapacity: true)
        eventFrames = nil
        identityAllFrames = nil
        identityNewFrames = nil
        let store = scene.world.store
        var ids: [UInt32] = [], kinds: [UInt8] = [], xs: [Float] = [], ys: [Float] = []
        ids.reserveCapacity(store.count); kinds.reserveCapacity(store.count); xs.reserveCapacity(store.count); ys.reserveCapacity(store.count)
        // Wire ids are slots, sent in ascending order.
        newSlots.removeAll(keepingCapacity: true)
        newSlotsUnseen = true
        if aliveGeneration.count < store.slotCount { aliveGeneration += repeatElement(0, count: store.slotCount - aliveGeneration.count) }
        for s in 0..<store.slotCount {
            guard let d = store.dense(ofSlot: s) else { aliveGeneration[s] = 0; continue }
            ids.append(UInt32(s)); kinds.append(store.kind[d]); xs.append(store.x[d]); ys.append(store.y[d])
            let g = store.generation[s] &+ 1
            if aliveGeneration[s] != g { aliveGeneration[s] = g; newSlots.append(UInt32(s)) }
        }
        // The cells' ids before this encode (by reference: the encoder's next writes copy them),
        // kept only while a version 3 area view follows them. A view's first update rebuilds
        // it from the cells, so ticks without one need nothing kept.
        if feed != nil || subscriptions.contains(where: { $0.version >= 3 && $0.area != nil }) {
            previousCellIds = encoder.withCells { $0.map(\.ids) }
        } else if !previousCellIds.isEmpty {
            previousCellIds = []
        }
        cellDiffs.removeAll(keepingCapacity: true)
        lastBlocks = encoder.encode(tick: scene.world.tick, ids: ids, kinds: kinds, x: xs, y: ys)
        keyframes.removeAll(keepingCapacity: true)
        if let encoder3 {
            let attributes = scene.world.attributes
            let zs = zip(ids, kinds).map { id, kind in heightAttribute[kind].flatMap { attributes.float(slot: id, attribute: Int($0)) } ?? 0 }
            lastBlocks3 = encoder3.encode(tick: scene.world.tick, ids: ids, kinds: kinds, x: xs, y: ys, z: zs)
            keyframes3.removeAll(keepingCapacity: true)
        }
        tickTimeMicros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
    }

    func keyframe(_ c: Int, heights: Bool = false) -> ByteBuffer? {
        if heights, let encoder3 {
            if let k = keyframes3[c] { return k }
            let k = encoder3.keyframe(cell: c)
            keyframes3[c] = k
            return k
        }
        if let k = keyframes[c] { return k }
        let k = encoder.keyframe(cell: c)
        keyframes[c] = k
        return k
    }

    /// Attribute values without the heights a version 2 stream already carries.
    func withoutHeights(_ values: [WireAttribute]) -> [WireAttribute] {
        guard !heightAttribute.isEmpty else { return values }
        let store = scene.world.store
        return values.filter { v in
            guard let d = store.dense(ofSlot: Int(v.entity)), let a = heightAttribute[store.kind[d]] else { return true }
            return a != v.attribute
        }
    }

    /// Sends a framed message unless it exceeds the frame limit Welcome announced: that is a
    /// server fault, counted, logged, and the client is closed with Error 15.
    func send(_ frame: ByteBuffer, to s: Subscription) {
        // The limit counts the type byte and the payload, not the length prefix.
        guard fitsLimit(frame.readableBytes - Self.prefixLength(frame), s) else { return }
        s.outlet.send(WireMessageBox(buffer: frame))
    }

    /// Sends a shared message to one subscription, under the same frame-limit check as `send`.
    func send(_ frame: SharedFrame, to s: Subscription) {
        guard fitsLimit(frame.payloadBytes(subscription: s.id), s) else { return }
        s.outlet.send(frame, subscription: s.id)
    }

    /// False (counted, logged, the client closed with Error 15) for a frame over the limit.
    func fitsLimit(_ payload: Int, _ s: Subscription) -> Bool {
        guard payload > runner.maxFrameBytes else { return true }
        runner.metrics.framesOversized.increment()
        runner.logger.error("frame over the announced limit", metadata: ["bytes": "\(payload)", "limit": "\(runner.maxFrameBytes)"])
        s.outlet.closeWithError(.internalError, "the server made a frame of \(payload) bytes, over its announced limit of \(runner.maxFrameBytes)")
        return false
    }

    /// Bytes of a frame's varint length prefix.
    static func prefixLength(_ frame: ByteBuffer) -> Int {
        var n = 0
        while let b = frame.getInteger(at: frame.readerIndex + n, as: UInt8.self) {
            n += 1
            if b & 0x80 == 0 { break }
        }
        return n
    }
}
