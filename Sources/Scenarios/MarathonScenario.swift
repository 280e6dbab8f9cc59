import SceneCore

/// A city marathon: runners in start waves follow the course lap after lap, at paces from
/// elite (2:05) to the back of the field (6:30), slowed by congestion and water stations,
/// helped a little by drafting; spectators line the course.
///
/// Events: 100 start, 101 split at every kilometre and 102 finish (value: seconds since the
/// runner's start), 103 leaderboard (value: rank; the ten furthest runners, every second). Attributes of a runner: bib, pace
/// (seconds per km), last split (seconds since its start), finish time (seconds, 0 until then).
public final class MarathonScenario: Scenario {
    public let course: Course
    public let runners: Int
    public let spectators: Int
    public let distance: Float
    public let waves: Int
    public let waveGapSeconds: Float
    public let stations: [Float]
    public let roadHalfWidth: Float
    /// The runner's state, in columns of its own: distance run (negative while waiting behind
    /// the line), lane (metres off the course's centre line) and start wave.
    public private(set) var columns: MarathonColumns?
    /// Participants' intentions, names and fixes (made in `populate`).
    public private(set) var intentions: ParticipantIntentions?

    public static let runner = EntityKind(code: 1, name: "runner")
    public static let spectator = EntityKind(code: 3, name: "spectator")
    /// Participants have a fifth, `away` (1 while their connection is gone).
    public enum Attribute: Int { case bib = 0, pace, lastSplit, finishTime, away }
    public enum Event {
        public static let start = SceneEvent.Kind(rawValue: 100)
        public static let split = SceneEvent.Kind(rawValue: 101)
        public static let finish = SceneEvent.Kind(rawValue: 102)
        public static let leaderboard = SceneEvent.Kind(rawValue: 103)
    }

    public init(course: Course, parameters p: MarathonParameters, stations: [Float]) {
        self.course = course
        runners = p.runners
        spectators = p.spectators
        distance = p.distance
        waves = p.waves
        waveGapSeconds = p.waveGapSeconds
        roadHalfWidth = p.roadHalfWidth
        self.stations = stations
    }

    public var kinds: [EntityKind] { [Self.runner, Self.spectator, Self.participant] }
    public var capacity: Int { runners + spectators }

    /// Finish times follow a skewed spread: few elites near 2:05, most between 3:30 and 5:00,
    /// a tail to 6:30 (seconds for the full distance, scaled to `distance`).
    static func finishSeconds(_ u: Float) -> Float {
        let t = 7_500 + (23_400 - 7_500) * (u * u * (3 - 2 * u)) * 0.85 + 15_900 * 0.15 * u
        return min(max(t, 7_500), 23_400)
    }

    public func populate(_ world: World, seed: UInt64) throws -> any Behaviour {
        let intentions = ParticipantIntentions(world: world, limits: limits, awayAttribute: Attribute.away.rawValue)
        self.intentions = intentions
        let columns = MarathonColumns(
            run: world.store.addColumn("run", initial: Float(0)),
            lane: world.store.addColumn("lane", initial: Float(0)),
            wave: world.store.addColumn("wave", initial: Int32(-1)),
            participant: intentions.columns)
        self.columns = columns
        world.attributes.declare(kind: Self.runner.code, [
            AttributeSpec("bib", .int32), AttributeSpec("pace", .float32),
            AttributeSpec("lastSplit", .float32), AttributeSpec("finishTime", .float32),
        ])
        world.attributes.declare(kind: Self.participant.code, [
            AttributeSpec("bib", .int32), AttributeSpec("pace", .float32),
            AttributeSpec("lastSplit", .float32), AttributeSpec("finishTime", .float32), AttributeSpec("away", .int32),
        ])
        var rng = SeededGenerator(seed: seed)
        // Faster runners in earlier waves and nearer the front, as real start corrals do.
        var paces = (0..<runners).map { _ in Self.finishSeconds(Float.random(in: 0..<1, using: &rng)) }
        paces.sort()
        let perWave = (runners + waves - 1) / waves
        for k in 0..<runners {
            let inWave = k % perWave
            // Corral: rows of runners behind the start line, across the road.
            let across = Int(roadHalfWidth * 2 / 0.8)
            let row = inWave / max(across, 1), col = inWave % max(across, 1)
            let lane = -roadHalfWidth + 0.4 + Float(col) * 0.8
            let behind = 1 + Float(row) * 0.8
            // The corral follows the course backwards from the start line.
            let (at, dir) = course.locate(-behind)
            var p = at + SIMD2(-dir.y, dir.x) * lane
            if world.obstacles.isBlocked(p.x, p.y), let free = world.obstacles.nearestFreePoint(x: p.x, y: p.y) { p = free }
            let speed = 42_195 / paces[k]   // the pace that finishes a marathon in paces[k] seconds
            let h = try world.spawn(kind: Self.runner.code, x: p.x, y: p.y, speed: speed)
            world.attributes.set(slot: h.index, attribute: Attribute.bib.rawValue, int: Int32(k + 1))
            world.attributes.set(slot: h.index, attribute: Attribute.pace.rawValue, float: 1000 / speed)
            try world.store.set(columns.run, of: h, to: -behind)
            try world.store.set(columns.lane, of: h, to: lane)
            try world.store.set(columns.wave, of: h, to: Int32(k / perWave))
        }
        // Spectators along both kerbs, spread over the first lap.
        for k in 0..<spectators {
            let s = course.lapLength * Float(k) / Float(max(spectators, 1))
            let (p, d) = course.locate(s)
            let side: Float = k % 2 == 0 ? 1 : -1
            var q = p + SIMD2(-d.y, d.x) * side * (roadHalfWidth + 1.2)
            if world.obstacles.isBlocked(q.x, q.y) {
                guard let free = world.obstacles.nearestFreePoint(x: q.x, y: q.y) else { continue }
                q = free
            }
            try world.spawn(kind: Self.spectator.code, x: q.x, y: q.y, speed: 0)
        }
        return MarathonBehaviour(course: course, distance: distance, runner: columns, limits: limits,
                                 waveGapSeconds: waveGapSeconds, stations: stations, roadHalfWidth: roadHalfWidth)
    }

    /// Runners: bib, a name and their start wave; spectators by slot.
    public func identity(slot: UInt32, in world: World) -> EntityIdentity? {
        guard let d = world.store.dense(ofSlot: Int(slot)) else { return nil }
        if world.store.kind[d] == Self.participant.code {
            let bib = UInt32(clamping: Int(world.attributes.int(slot: slot, attribute: Attribute.bib.rawValue) ?? 0))
            return EntityIdentity(key: "participant-\(Int(bib) - runners)", label: intentions?.names[slot] ?? "participant",
                                  group: "participants", number: bib)
        }
        guard world.store.kind[d] == Self.runner.code, let bib = world.attributes.int(slot: slot, attribute: Attribute.bib.rawValue),
              let columns else {
            return EntityIdentity(key: "spectator-\(slot)", label: "spectator", group: "spectators")
        }
        let wave = world.store[columns.wave, dense: d]
        let number = UInt32(clamping: Int(bib))
        return EntityIdentity(key: "bib-\(bib)", label: RunnerNames.name(bib: number), group: "wave \(wave + 1)", number: number)
    }

    public var sceneWideEvents: Set<SceneEvent.Kind> { [Event.leaderboard] }

    /// A runner meets the runners of the grid cells (2 m) that its ±2.2 m box touches, so up
    /// to 4.2 m away, and moves at most twice its pace, under 13 m/s, in a tick; half a metre
    /// to spare.
    public func regionReach(dt: Float) -> Float? { max(2.2 + 2, 26 * dt) + 0.5 }

    public func afterStep(_ world: World) -> [SceneEvent] {
        var out: [SceneEvent] = []
        let tickRate = max(1, Int((1 / world.dt).rounded()))
        for e in world.events {
            switch e.kind {
            case Event.split: world.attributes.set(slot: e.entity, attribute: Attribute.lastSplit.rawValue, float: e.value)
            case Event.finish: world.attributes.set(slot: e.entity, attribute: Attribute.finishTime.rawValue, float: e.value)
            default: break
            }
            if e.kind.rawValue >= 100 { out.append(e) }
        }
        // Participants' pace from the speed they reached, once a second.
        if world.tick % UInt64(tickRate) == 0, let gait = columns?.participant.gait {
            for slot in intentions?.names.keys ?? [:].keys {
                guard let h = world.store.handle(slot: Int(slot)), let v = world.store.value(gait, of: h) else { continue }
                // Unchanged values are not sent again (the table keeps only changes).
                world.attributes.set(slot: slot, attribute: Attribute.pace.rawValue, float: v > 0.05 ? 1000 / v : 0)
            }
        }
        // The ten furthest runners, once a second.
        if let r = ranking(world, include: { _ in true }) {
            for (rank, e) in r.entries.enumerated() {
                out.append(SceneEvent(tick: world.tick, entity: e.slot, kind: r.kind, value: Float(rank + 1)))
            }
        }
        return out
    }

    /// The ten furthest runners and participants, once a second (a region shard's own, for
    /// region shards to merge: docs/SCALEOUT.md).
    public func ranking(_ world: World, include: (Int) -> Bool) -> SceneRanking? {
        let tickRate = max(1, Int((1 / world.dt).rounded()))
        guard world.tick % UInt64(tickRate) == 0, let run = columns?.run else { return nil }
        var best: [RankEntry] = []
        let store = world.store
        for i in 0..<store.count where (store.kind[i] == Self.runner.code || store.kind[i] == Self.participant.code) && include(i) {
            let e = RankEntry(score: store[run, dense: i], slot: store.slot[i])
            if best.count < 10 || RankEntry.before(e, best[best.count - 1]) {
                best.append(e)
                best.sort(by: RankEntry.before)
                if best.count > 10 { best.removeLast() }
            }
        }
        return SceneRanking(kind: Event.leaderboard, size: 10, entries: best)
    }
}


/// The columns a marathon adds to its world's store.
public struct MarathonColumns: Sendable {
    /// Metres run so far; negative while waiting behind the start line.
    public let run: EntityColumn<Float>
    /// Metres off the course's centre line.
    public let lane: EntityColumn<Float>
    /// Start wave, 0 first; -1 for spectators, -2 for a participant who started on the line.
    public let wave: EntityColumn<Int32>
    public let participant: ParticipantColumns
}
