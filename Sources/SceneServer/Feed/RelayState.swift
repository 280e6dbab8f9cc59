import CoreMetrics
import Dispatch
import Foundation
import Logging
import NATSClient
import NIOCore
import SceneWire
import Synchronization

/// Feed messages in the order NATS delivered them, from the connection's event loop to the
/// relay's thread. Bounded: beyond `limit` messages not yet taken, further ones are refused
/// (NATS counts them as dropped and reports a slow consumer, and the relay resyncs).
final class FeedInbox: Sendable {
    private let queue = Mutex<[NATSMessage]>([])
    let limit: Int
    init(limit: Int = 65_536) { self.limit = limit }
    func add(_ m: NATSMessage) -> Bool {
        queue.withLock { q in
            guard q.count < limit else { return false }
            q.append(m)
            return true
        }
    }
    func take() -> [NATSMessage] { queue.withLock { q in defer { q.removeAll(keepingCapacity: true) }; return q } }
}

/// What one subscriber asked the scene's process for and waits for.
struct RelayAsk {
    var request: UInt32
    var cells: Set<Int>
    /// A whole resync (keyframes of every covered cell and an attribute snapshot), or only
    /// the cells new to the subscriber.
    var resync: Bool
    var geometry: WireArea??
    /// When it was asked (uptime ns): an answer not come within a second is asked again.
    var askedAt: UInt64
    /// Each cell's entities (version 3 views) were asked for too.
    var members = false
    /// The area it was asked for, and the MoveAreaRequest that area answers (nil: none).
    var area: WireArea?
    var moveRequest: UInt32?
}

/// An answer to a key request, as its parts arrive (from each region of a scene split into
/// region shards: complete when every region that ticks has answered).
struct RelayAnswer {
    var tick: UInt64
    var keyframes: [Int: FeedCellKey] = [:]
    /// Messages by region (0 for a scene in one process), sent in region order.
    var framesByRegion: [Int: [SharedFrame]] = [:]
    var regionsDone = Set<Int>()
    var complete = false
    var frames: [SharedFrame] { framesByRegion.keys.sorted().flatMap { framesByRegion[$0]! } }
}

/// The tick ends of one tick from the regions of a scene split into region shards, until
/// every region that ticks has sent its own.
struct RegionEnds {
    var seen = Set<Int>()
    var entities: UInt32 = 0
    var serverTimeMicros: UInt64 = 0
    var advanced = true
    var reset = false
    var geometryChanged = false
}

/// A gateway's side of one scene (docs/SCALEOUT.md): the scene runs in another process; this
/// relay, on the scene runner's thread, subscribes on NATS to the cells its subscribers'
/// areas cover, and at each tick's end sends each subscriber the same frame a server would,
/// made of the feed's blocks as they came (never decoded, never coded again). Keyframes for
/// a new subscriber, a moved area or a resync come from the scene's process by request.
/// Speaks versions 1 to 3 of the protocol (version 3's views follow the cells' comings and
/// goings, which the feed carries with each cell's block: RelayState+Views.swift; version 2's
/// areas filter by the positions the subscriber decodes: RelayState+Areas.swift).
final class RelayState {
    let runner: SceneRunner
    let scene: FeedScene
    let connection: NATSConnection
    /// Cell arithmetic only: which cells an area covers (no state is coded here).
    let grid: SceneStateEncoder
    let inbox = FeedInbox()
    let tickSubject: String, extrasSubject: String, keysSubject: String
    let inboxSubject: String
    /// Participants through this gateway (RelayState+Desk.swift): where their messages go,
    /// where the answers come, the sessions that joined or are joining, by outlet id, and
    /// when the gateway last said it is alive.
    let deskSubject: String, deskReplySubject: String
    var relaySeats: [Int: RelaySeat] = [:]
    var lastAliveAt: UInt64 = 0
    var sink: NATSSubscription?
    var subscriptions: [Subscription] = []
    var asks: [ObjectIdentifier: RelayAsk] = [:]
    /// Subscribers whose ask found no responder (the scene's process away): not asked again before then.
    var retryAt: [ObjectIdentifier: UInt64] = [:]
    var answers: [UInt32: RelayAnswer] = [:]
    var nextRequest: UInt32 = 0
    /// The cells subscribed on NATS, with how many subscribers cover each.
    var cellInterest: [Int: (count: Int, sub: NATSSubscription)] = [:]
    /// Each subscriber's cells of interest: those it covers, holds, or waits for.
    var interest: [ObjectIdentifier: Set<Int>] = [:]
    /// Version 3: the entities in each cell whose members are known (from a key reply, then
    /// followed by the cell's comings and goings while it is subscribed), each subscriber's
    /// view, who came into a cell this tick, and the tick's attribute changes and events.
    var members: [Int: Set<UInt32>] = [:]
    var views: [ObjectIdentifier: RelayView] = [:]
    /// Version 2 areas (RelayState+Areas.swift): each such subscriber's decoded view, and who
    /// the entities of the followed cells are, with their values.
    var areaViews: [ObjectIdentifier: RelayAreaView] = [:]
    var known: [UInt32: KnownEntity] = [:]
    let heightKinds: HeightKinds?
    var tickEntrants: [UInt32: FeedEntrant] = [:]
    var tickValues: (changes: [WireAttribute], events: [WireEvent])?
    /// The scene's kinds with heights and their attribute z; whether it has attributes.
    let heightAttribute: [UInt8: UInt8]
    let hasAttributes: Bool
    var cellOfSubject: [String: Int] = [:]
    /// Blocks and extras by tick until the tick's end arrives (a region may be a tick ahead of
    /// another), and those of the tick being sent.
    var pendingCells: [UInt64: [Int: FeedCell]] = [:]
    var pendingExtras: [UInt64: (changes: [SharedFrame], events: [SharedFrame])] = [:]
    var tickCells: [Int: FeedCell] = [:]
    var tickChanges: [SharedFrame] = [], tickEvents: [SharedFrame] = []
    /// A scene split into region shards: how many regions, each one's last tick end (uptime
    /// ns), the ends of ticks not yet complete, and the regions said missing.
    var regions = 1
    var regionLastEnd: [Int: UInt64] = [:]
    /// When the first region's tick end came: a region never heard from is missing too.
    var firstRegionEndAt: UInt64?
    var regionEnds: [UInt64: RegionEnds] = [:]
    var missingRegions = Set<Int>()
    var lastTick: UInt64?
    var lastAdvanced = true
    /// Something was lost: every subscriber resyncs at the next tick's end.
    var broken: String?
    /// The NATS connection the last message came on (`NATSMessage.connection`).
    var feedConnection = 0
    /// The cells whose members were taken in from each answer this tick.
    var learned: [UInt32: Set<Int>] = [:]
    var badMessages = 0
    /// When the last tick's end came (uptime ns), and whether the scene is taken for missing.
    var lastEndAt = DispatchTime.now().uptimeNanoseconds
    var silent = false
    var silentLoggedAt: UInt64 = 0
    /// No tick from the scene's process for this long (ns): it is said to be missing.
    static let silentAfter: UInt64 = 2_000_000_000

    init(runner: SceneRunner, scene: FeedScene, connection: NATSConnection) {
        self.runner = runner
        self.scene = scene
        self.connection = connection
        let i = scene.info
        grid = SceneStateEncoder(bounds: i.bounds, quantum: i.quantum, cellSize: i.cellSize)
        tickSubject = FeedSubjects.tick(scene.name)
        extrasSubject = FeedSubjects.extras(scene.name)
        keysSubject = FeedSubjects.keys(scene.name)
        inboxSubject = "_GW.\(UUID().uuidString.replacingOccurrences(of: "-", with: "")).\(FeedSubjects.token(scene.name))"
        deskSubject = FeedSubjects.desk(scene.name)
        deskReplySubject = inboxSubject + ".desk"
        var heights: [UInt8: UInt8] = [:]
        for k in i.kinds where k.zRange != nil {
            if let a = k.attributes.firstIndex(where: { $0.name == "z" }) { heights[k.code] = UInt8(a) }
        }
        heightAttribute = heights
        heightKinds = i.kinds.contains { $0.zRange != nil } ? HeightKinds(i.kinds, quantum: i.quantum) : nil
        hasAttributes = i.kinds.contains { !$0.attributes.isEmpty }
    }

    func run() {
        do {
            // Taken on the connection's event loop straight into the inbox: no task between
            // NATS and this thread.
            let inbox = self.inbox, wake = runner.wake
            let sink = try connection.subscribe(tickSubject) { m in
                guard inbox.add(m) else { return false }
                wake.signal()
                return true
            }
            _ = try connection.subscribe(extrasSubject, into: sink)
            _ = try connection.subscribe(inboxSubject + ".*", into: sink)
            self.sink = sink
        } catch {
            runner.logger.error("the gateway cannot subscribe to the scene's feed", metadata: ["error": "\(error)"])
        }
        while !runner.stopRequested.load(ordering: .relaxed) {
            _ = runner.wake.wait(timeout: .now() + .milliseconds(50))
            for c in runner.takeCommands() { apply(c) }
            for m in inbox.take() { handle(m) }
            completeRegionEnds()
            askWhatIsMissing()
            noticeSilence()
            deskHousekeeping()
            runner.subscriberCounter.store(subscriptions.count, ordering: .relaxed)
        }
        for s in subscriptions { s.outlet.send(WireMessageBox(buffer: WireMessage.goodbye(reason: "scene \(runner.name) stopped").frame())) }
        subscriptions.removeAll()
        for (_, interest) in cellInterest { interest.sub.unsubscribe() }
        cellInterest.removeAll()
        sink?.unsubscribe()
        runner.subscriberCounter.store(0, ordering: .relaxed)
    }

    // MARK: sessions' commands

    func apply(_ command: RunnerCommand) {
        switch command {
        case .subscribe(let outlet, let id, let area, let version):
            let s = Subscription(outlet: outlet, id: id, area: area, version: version)
            setCovered(s, Set(grid.cells(covering: area)))
            subscriptions.append(s)
        case .unsubscribe(let outlet, let id):
            for s in subscriptions where s.outlet === outlet && s.id == id { remove(s) }
        case .moveArea(let outlet, let id, let area, let request):
            // The area in force stays until the new one's keyframes (and geometry) are here:
            // then one frame drops the old cells and adds the new (AreaMoved before it).
            for s in subscriptions where s.outlet === outlet && s.id == id {
                s.area = area
                if s.version >= 2, let request { s.movedRequest = request }
                setCovered(s, Set(grid.cells(covering: area)))
                s.needsStatic = true
            }
        case .dropSession(let outlet):
            for s in subscriptions where s.outlet === outlet { remove(s) }
            forwardDrop(outlet)
        case .control(let command, _, let reply):
            forward(command, reply: reply)
        case .feedBroken(let why):
            resyncAll(because: why)
        case .join(let link, let r):
            // Participants are the scene's process's (RelayState+Desk.swift).
            guard let outlet = link as? SessionOutlet else { return }
            forwardJoin(outlet, r)
        case .input(let link, let p, let seq, let input):
            if let outlet = link as? SessionOutlet { forwardInput(outlet, participant: p, sequence: seq, input) }
        case .leave(let link, let p):
            if let outlet = link as? SessionOutlet { forwardLeave(outlet, participant: p) }
        case .dropLink, .tileReady, .sceneReady, .feedKeys:
            // Links of gateways, catalog work and key requests belong to the scene's process.
            break
        }
    }

    func remove(_ s: Subscription) {
        let key = ObjectIdentifier(s)
        asks[key] = nil
        retryAt[key] = nil
        views[key] = nil
        areaViews[key] = nil
        s.covered = []
        s.sentCells = []
        refreshInterest(s)
        interest[key] = nil
        subscriptions.removeAll { $0 === s }
    }

    /// A subscriber's covered cells (the area asked for).
    func setCovered(_ s: Subscription, _ cells: Set<Int>) {
        s.covered = cells
        refreshInterest(s)
    }

    /// The NATS subscriptions of the cells following what the subscribers cover, hold and
    /// wait for: a cell stays subscribed until no subscriber needs it.
    func refreshInterest(_ s: Subscription) {
        let key = ObjectIdentifier(s)
        var wanted = s.covered.union(s.sentCells)
        if let ask = asks[key] { wanted.formUnion(ask.cells) }
        let had = interest[key] ?? []
        guard wanted != had else { return }
        interest[key] = wanted
        for c in wanted.subtracting(had) {
            if let interest = cellInterest[c] {
                cellInterest[c] = (interest.count + 1, interest.sub)
            } else if let sink {
                let subject = FeedSubjects.cell(scene.name, column: c % grid.columns, row: c / grid.columns)
                do {
                    cellInterest[c] = (1, try connection.subscribe(subject, into: sink))
                    cellOfSubject[subject] = c
                } catch {
                    runner.logger.error("cannot subscribe to a cell of the feed", metadata: ["subject": "\(subject)", "error": "\(error)"])
                }
            }
        }
        for c in had.subtracting(wanted) {
            guard let interest = cellInterest[c] else { continue }
            if interest.count > 1 {
                cellInterest[c] = (interest.count - 1, interest.sub)
            } else {
                interest.sub.unsubscribe()
                cellInterest[c] = nil
                cellOfSubject[interest.sub.subject] = nil
                members[c] = nil
            }
        }
    }

    /// Control goes to the scene's process (NATS request) and its answer back to the operator.
    func forward(_ command: ControlCommand, reply: @escaping ControlReply) {
        let connection = self.connection, subject = FeedSubjects.control(scene.name)
        let payload = WireMessage.control(token: "", scene: scene.name, command: command).frame()
        Task.detached {
            do {
                let m = try await connection.request(subject, payload: payload, timeout: 10)
                if case .controlResult(let ok, let text) = try FeedWire.message(m.payload) { reply(ok, text) } else { reply(false, "the scene's process answered with something else than a ControlResult") }
            } catch {
                reply(false, "the scene's process did not answer the control command: \(error)")
            }
        }
    }

    // MARK: asking for keyframes

    /// Asks the scene's process for what subscribers lack: a resync's keyframes and
    /// snapshot, the keyframes of cells new to a moved area, static geometry.
    func askWhatIsMissing() {
        guard sink != nil else { return }
        // Region shards answer at a tick the gateway names, a few ahead of the last it sent,
        // so that every region answers at the same one.
        if regions > 1 && lastTick == nil { return }
        let at = regions > 1 ? lastTick.map { $0 + 4 } : nil
        let now = DispatchTime.now().uptimeNanoseconds
        for s in subscriptions where asks[ObjectIdentifier(s)] == nil && retryAt[ObjectIdentifier(s)].map({ now >= $0 }) != false {
            retryAt[ObjectIdentifier(s)] = nil
            let rounded = RunnerState.geometryArea(s.area)
            let geometry: WireArea?? = s.needsStatic && s.geometrySent != .some(rounded) ? .some(rounded) : nil
            if s.needsStatic && geometry == nil { s.needsStatic = false }
            // A paused scene's frames are all resyncs (the tick does not advance).
            let resync = s.needsResync || (!lastAdvanced && s.covered != s.sentCells)
            let cells = resync ? s.covered : s.covered.subtracting(s.sentCells)
            guard resync || !cells.isEmpty || geometry != nil else { continue }
            let members = s.version >= 2
            // Subscribers that need what one request in flight asks share its answer (many
            // joining at once cost the scene's process one answer).
            if let shared = asks.values.first(where: { a in
                a.resync == resync && a.members == members && a.geometry == geometry && a.cells.isSuperset(of: cells) && answers[a.request]?.complete != true
            }) {
                asks[ObjectIdentifier(s)] = RelayAsk(request: shared.request, cells: cells, resync: resync, geometry: geometry, askedAt: shared.askedAt,
                                                     members: members, area: s.area, moveRequest: s.movedRequest)
                refreshInterest(s)
                continue
            }
            nextRequest &+= 1
            // A version 2 or 3 resync's values come with the cells' members, not as a snapshot.
            let request = FeedKeyRequest(request: nextRequest, cells: cells.sorted(), snapshot: resync && !members, geometry: geometry, at: at, members: members)
            do {
                try connection.publish(keysSubject, payload: request.encoded(), reply: "\(inboxSubject).\(nextRequest)")
                asks[ObjectIdentifier(s)] = RelayAsk(request: nextRequest, cells: cells, resync: resync, geometry: geometry, askedAt: now,
                                                     members: members, area: s.area, moveRequest: s.movedRequest)
                answers[nextRequest] = nil
                refreshInterest(s)
            } catch {
                // NATS is away with its buffer full: asked again on the next turn.
                return
            }
        }
    }

    /// How long an answer may take before it is asked again (nanoseconds).
    static let answerTimeout: UInt64 = 1_000_000_000

    func resyncAll(because why: String) {
        runner.metrics.feedResyncs.increment()
        runner.logger.notice("the feed broke: every subscriber resyncs", metadata: ["reason": "\(why)"])
        for s in subscriptions { s.needsResync = true }
        asks.removeAll()
        answers.removeAll()
        tickCells.removeAll()
        pendingCells.removeAll()
        pendingExtras.removeAll()
        regionEnds.removeAll()
        tickChanges = []
        tickEvents = []
        members.removeAll()
        known.removeAll()
        lastTick = nil
    }

    /// A scene whose process went quiet is said to be missing: logged (again every 30 s),
    /// `twinscene_feed_silent{scene}` 1, until its ticks come again.
    func noticeSilence() {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now > lastEndAt + Self.silentAfter else { return }
        if !silent || now > silentLoggedAt + 30_000_000_000 {
            runner.logger.warning("no tick from the scene's process: the scene is missing", metadata: [
                "seconds": "\((now - lastEndAt) / 1_000_000_000)", "lastTick": "\(lastTick.map { "\($0)" } ?? "none")", "subscribers": "\(subscriptions.count)"])
            silentLoggedAt = now
        }
        if !silent { silent = true; runner.sceneMetrics.feedSilent.record(1) }
    }

    // MARK: the feed

    func handle(_ m: NATSMessage) {
        runner.metrics.feedMessagesIn.increment()
        // The first message of a new NATS connection: what was published while this process
        // was away is lost, whatever came of it before (told here in order with the messages;
        // the connection's event comes by another way, maybe after this tick's end).
        if m.connection != feedConnection {
            if feedConnection != 0 { broken = broken ?? "NATS reconnected" }
            feedConnection = m.connection
        }
        do {
            if m.subject == tickSubject {
                let t = try FeedTick.decode(m.payload)
                if let r = t.region, r.regions > 1 { regionEnd(t, r) } else { end(t) }
            } else if m.subject == extrasSubject {
                let e = try FeedExtras.decode(m.payload)
                for f in e.frames {
                    if f.type == .events { pendingExtras[e.tick, default: ([], [])].events.append(f) } else { pendingExtras[e.tick, default: ([], [])].changes.append(f) }
                }
            } else if m.subject == deskReplySubject {
                try deskReply(m)
            } else if m.subject.hasPrefix(inboxSubject + ".") {
                if m.headers?.status == 503 {
                    // No responder: the scene's process is away. Asked again in a second.
                    for (key, _) in asks where "\(inboxSubject).\(asks[key]!.request)" == m.subject {
                        asks[key] = nil
                        retryAt[key] = DispatchTime.now().uptimeNanoseconds + 1_000_000_000
                    }
                    return
                }
                let part = try FeedKeyReply.decode(m.payload)
                var answer = answers[part.request] ?? RelayAnswer(tick: part.tick)
                guard !answer.complete else { throw WireError.malformed("parts of answer \(part.request) after its last") }
                guard answer.tick == part.tick else {
                    // Regions that answered at different ticks (one had passed the tick asked
                    // for): the answer is dropped and its subscribers ask again.
                    guard part.region != nil else { throw WireError.malformed("parts of answer \(part.request) of different ticks") }
                    answers[part.request] = nil
                    for (key, ask) in asks where ask.request == part.request { asks[key] = nil }
                    return
                }
                for k in part.keyframes {
                    let key = try FeedCellKey.decode(k)
                    answer.keyframes[key.cell] = key
                }
                let region = part.region?.index ?? 0
                answer.framesByRegion[region, default: []] += part.frames
                if part.last { answer.regionsDone.insert(region) }
                answer.complete = part.region == nil ? part.last : answeredByEveryRegion(answer)
                answers[part.request] = answer
            } else if let c = cellOfSubject[m.subject] {
                let cell = try FeedCell.decode(m.payload)
                pendingCells[cell.tick, default: [:]][c] = cell
            }
        } catch {
            badMessages += 1
            if badMessages == 1 || badMessages % 1000 == 0 {
                runner.logger.error("a bad message on the feed", metadata: ["subject": "\(m.subject)", "error": "\(error)", "count": "\(badMessages)"])
            }
            broken = "a bad message on \(m.subject): \(error)"
        }
    }

    /// Whether every region that ticks (none said missing) has answered.
    func answeredByEveryRegion(_ a: RelayAnswer) -> Bool {
        (0..<regions).allSatisfy { a.regionsDone.contains($0) || missingRegions.contains($0) }
    }

    /// A region shard's tick end: kept until every region that ticks has ended the tick.
    func regionEnd(_ t: FeedTick, _ r: FeedRegion) {
        if r.regions != regions {
            regions = r.regions
            regionEnds.removeAll()
        }
        regionLastEnd[r.index] = DispatchTime.now().uptimeNanoseconds
        if firstRegionEndAt == nil { firstRegionEndAt = regionLastEnd[r.index] }
        if missingRegions.remove(r.index) != nil {
            runner.logger.notice("a region of the scene ticks again", metadata: ["region": "\(r.index)", "tick": "\(t.tick)"])
        }
        if let last = lastTick, t.tick <= last { return }   // a region back from away, behind the others
        var e = regionEnds[t.tick] ?? RegionEnds()
        e.seen.insert(r.index)
        e.entities &+= t.entities
        e.serverTimeMicros = max(e.serverTimeMicros, t.serverTimeMicros)
        e.advanced = e.advanced && t.advanced
        e.reset = e.reset || t.reset
        e.geometryChanged = e.geometryChanged || t.geometryChanged
        regionEnds[t.tick] = e
        completeRegionEnds()
    }

    /// Ends the ticks every region that ticks has ended, in order. A region with no end for
    /// `silentAfter` (or none at all since the first region's) is said missing (logged): ticks go on without its cells, which stay as
    /// they were for the subscribers, until it ends a tick again.
    func completeRegionEnds() {
        guard regions > 1 else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        for k in 0..<regions where !missingRegions.contains(k) {
            // Silent for a while (or never heard from since the first region was) while another
            // region ticks: missing, so the others' ticks are not held for it.
            if let at = regionLastEnd[k] ?? firstRegionEndAt, now > at + Self.silentAfter,
               regionLastEnd.values.contains(where: { now <= $0 + Self.silentAfter }) {
                missingRegions.insert(k)
                runner.logger.warning("a region of the scene is missing: its cells stay as they were", metadata: ["region": "\(k)", "regions": "\(regions)"])
            }
        }
        let needed = Set(0..<regions).subtracting(missingRegions)
        let ticks = regionEnds.keys.sorted()
        // A tick some region's end never comes for (ended before this gateway subscribed, or
        // lost) is given up once a later tick is whole: a gap, which resyncs the subscribers.
        guard let lastWhole = ticks.last(where: { needed.isSubset(of: regionEnds[$0]!.seen) }) else { return }
        for tick in ticks where tick <= lastWhole {
            guard let e = regionEnds.removeValue(forKey: tick), needed.isSubset(of: e.seen) else { continue }
            end(FeedTick(tick: tick, serverTimeMicros: e.serverTimeMicros, entities: e.entities, advanced: e.advanced,
                         reset: e.reset, geometryChanged: e.geometryChanged))
        }
        for (k, a) in answers where !a.complete && a.regionsDone.count > 0 && answeredByEveryRegion(a) { answers[k]!.complete = true }
    }

    /// A tick's end: every subscriber's frame of it.
    func end(_ t: FeedTick) {
        lastEndAt = DispatchTime.now().uptimeNanoseconds
        if silent {
            silent = false
            runner.sceneMetrics.feedSilent.record(0)
            runner.logger.notice("the scene's process ticks again", metadata: ["tick": "\(t.tick)"])
        }
        if t.advanced {
            runner.sceneMetrics.ticks.increment()
            runner.sceneMetrics.entities.record(Int(t.entities))
        }
        if t.advanced, !t.reset, let last = lastTick, t.tick != last &+ 1 { broken = broken ?? "ticks \(last) to \(t.tick): a gap" }
        if let stale = pendingCells.keys.first(where: { $0 < t.tick }), let cell = pendingCells[stale]?.keys.first {
            broken = broken ?? "cell \(cell) of tick \(stale) at the end of \(t.tick)"
        }
        tickCells = pendingCells.removeValue(forKey: t.tick) ?? [:]
        let extras = pendingExtras.removeValue(forKey: t.tick)
        tickChanges = extras?.changes ?? []
        tickEvents = extras?.events ?? []
        pendingCells = pendingCells.filter { $0.key > t.tick }
        pendingExtras = pendingExtras.filter { $0.key > t.tick }
        if t.reset {
            for s in subscriptions { s.needsResync = true; s.needsStatic = true; s.geometrySent = nil; s.sentCells = [] }
            asks.removeAll()
            answers.removeAll()
            members.removeAll()
            // A new scene: what each subscriber was told of who is who no longer holds (the
            // scene's process sends every identity again after a reset too).
            views.removeAll()
            areaViews.removeAll()
            known.removeAll()
        }
        followMembers()
        followKnown()
        if t.geometryChanged { for s in subscriptions { s.needsStatic = true; s.geometrySent = nil } }
        if let why = broken {
            broken = nil
            resyncAll(because: why)
            lastTick = t.tick
            lastAdvanced = t.advanced
            return
        }
        lastTick = t.tick
        lastAdvanced = t.advanced
        runner.tickCounter.store(t.tick, ordering: .relaxed)
        runner.entityCounter.store(Int(t.entities), ordering: .relaxed)
        for s in subscriptions { frame(for: s, at: t) }
        learned.removeAll(keepingCapacity: true)
        tickCells.removeAll(keepingCapacity: true)
        tickEntrants.removeAll(keepingCapacity: true)
        tickValues = nil
        tickChanges = []
        tickEvents = []
        answers = answers.filter { !$0.value.complete && $0.value.tick >= t.tick }
    }

    /// One subscriber's frame of a tick, as `RunnerState.publish` makes it.
    func frame(for s: Subscription, at t: FeedTick) {
        let key = ObjectIdentifier(s)
        defer { refreshInterest(s) }
        guard runner.admits(s) else {
            // Skipped for its queue: what it asked for no longer fits the resync it will get.
            asks[key] = nil
            return
        }
        var answered: (ask: RelayAsk, answer: RelayAnswer)?
        if let ask = asks[key] {
            if let answer = answers[ask.request], answer.complete, answer.tick == t.tick {
                answered = (ask, answer)
                asks[key] = nil
            } else if answers[ask.request]?.complete == true || DispatchTime.now().uptimeNanoseconds > ask.askedAt + Self.answerTimeout {
                asks[key] = nil   // answered for another tick, or lost: asked again
            }
        }
        if answered == nil && (s.needsResync || !t.advanced) { return }
        if let (ask, _) = answered, !t.advanced, !ask.resync {
            // New cells while paused: the frame must be a resync, asked for next.
            s.needsResync = true
            return
        }
        let resync = answered?.ask.resync == true
        // The cells this frame leaves the subscriber with: a resync's; those of the area it
        // moved to, once their keyframes (and geometry) are here; else those it holds.
        var cells = s.sentCells
        var moved: UInt32?
        var applied: (ask: RelayAsk, answer: RelayAnswer)?
        if let (ask, answer) = answered, resync || (ask.area == s.area && ask.cells.isSuperset(of: s.covered.subtracting(s.sentCells))) {
            applied = (ask, answer)
            cells = resync ? ask.cells : s.covered
            moved = ask.area == s.area ? s.movedRequest : ask.moveRequest
        } else if answered == nil && s.covered.isSubset(of: s.sentCells) && !s.needsStatic {
            cells = s.covered
            moved = s.movedRequest
        }
        if let m = moved, s.version >= 2 {
            send(WireMessage.areaMoved(subscription: s.id, request: m, tick: t.tick).frame(), to: s)
            if s.movedRequest == m || cells == s.covered { s.movedRequest = nil }
        }
        if let (ask, answer) = applied, case .some(let area) = ask.geometry {
            if let g = answer.frames.first(where: { $0.type == .staticGeometry }) { send(g, to: s) }
            s.geometrySent = .some(area)
            if ask.area == s.area { s.needsStatic = false }
        }
        // Version 3, and version 2 without an area, follow the cells' members; version 2 with
        // an area filters by the positions its frames decode to.
        let exact = exactArea(s)
        let v3 = s.version >= 2 && !exact
        if !resync && (exact ? areaViews[key] == nil : areaViews[key] != nil) {
            // An area put on or taken off a version 2 subscription: its view starts again.
            s.needsResync = true
            return
        }
        let heights = s.version >= 2 && !heightAttribute.isEmpty
        if s.version >= 2, let (ask, answer) = applied {
            let new = ask.cells.subtracting(learned[ask.request] ?? [])
            if !new.isEmpty { learnMembers(new, from: answer); learned[ask.request, default: []].formUnion(new) }
            if exact { knowMembers(ask.cells, from: answer) }
        }
        if resync { if exact { views[key] = nil } else { areaViews[key] = nil } }
        // Version 3: the view this frame makes, and the identities it needs before it.
        var entered: [UInt32] = []
        if v3 {
            guard let e = updateView(s, cells: cells, resync: resync) else {
                s.needsResync = true
                return
            }
            entered = e
        }
        var blocks: [ByteBuffer] = []
        for c in s.sentCells.subtracting(cells).sorted() where !resync { blocks.append(CellBlock.drop(cell: UInt32(c))) }
        for c in cells.sorted() {
            let block: ByteBuffer?
            if s.sentCells.contains(c) && !resync {
                block = heights ? tickCells[c]?.block3 : tickCells[c]?.block
                if block == nil && tickCells[c] != nil { s.needsResync = true; return }
            } else {
                let k = applied?.answer.keyframes[c]
                block = heights ? k?.block3 : k?.block
            }
            if let block { blocks.append(block) }
        }
        // Version 2's area: the one in force with this frame (a move's once its cells are here).
        if exact {
            let inForce: WireArea? = applied.map { $0.ask.area } ?? (moved != nil || areaViews[key]?.area == nil ? s.area : areaViews[key]!.area)
            guard let area = inForce, let e = updateAreaView(s, blocks: blocks, tick: t.tick, resync: resync, area: area) else {
                s.needsResync = true
                return
            }
            entered = e
        }
        s.sentCells = cells
        if resync { s.needsResync = false }
        let stamp = resync || t.tick % UInt64(max(1, runner.tickRate)) == 0
        let frame = WireMessage.stateFrameBuffer(subscription: s.id, tick: stamp ? t.tick : nil, serverTimeMicros: stamp ? t.serverTimeMicros : nil,
                                                 resync: resync, cells: blocks, countsCells: s.version < 2)
        send(frame, to: s)
        if v3 {
            sendViewExtras(s, entered: entered, resync: resync, advanced: t.advanced, tick: t.tick)
            return
        }
        if exact {
            sendAreaExtras(s, entered: entered, resync: resync, advanced: t.advanced, tick: t.tick)
            return
        }
        if resync {
            for f in applied!.answer.frames where f.type == .attributes { send(f, to: s) }
        } else if t.advanced {
            for f in tickChanges { send(f, to: s) }
        }
        if t.advanced { for f in tickEvents { send(f, to: s) } }
    }

    func send(_ frame: ByteBuffer, to s: Subscription) {
        guard frame.readableBytes - RunnerState.prefixLength(frame) <= runner.maxFrameBytes else { return oversized(frame.readableBytes, s) }
        s.outlet.send(WireMessageBox(buffer: frame))
    }

    func send(_ frame: SharedFrame, to s: Subscription) {
        guard frame.payloadBytes(subscription: s.id) <= runner.maxFrameBytes else { return oversized(frame.payloadBytes(subscription: s.id), s) }
        s.outlet.send(frame, subscription: s.id)
    }

    func oversized(_ bytes: Int, _ s: Subscription) {
        runner.metrics.framesOversized.increment()
        s.outlet.closeWithError(.internalError, "the gateway made a frame of \(bytes) bytes, over its announced limit of \(runner.maxFrameBytes)")
    }
}
