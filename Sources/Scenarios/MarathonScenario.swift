import SceneCore

/// A city marathon: runners in start waves follow the course lap after lap, at paces from
/// elite (2:05) to the back of the field (6:30), slowed by congestion and water stations,
/// helped a little by drafting; spectators line the course.
///
/// Events: 100 start, 101 split at every kilometre and 102 finish (value: seconds since the
/// runner's start), 103 leaderboard (value: rank; the ten furthest runners, every second). Attributes of a runner: bib, pace
/// (seconds per km), last split (seconds since its start), finish time (seconds, 0 until then).
public struct MarathonScenario: Scenario {
    public let course: Course
    public var runners: Int
    public var spectators: Int
    public var distance: Float
    public var waves: Int
    public var waveGapSeconds: Float
    public var stations: [Float]
    public var roadHalfWidth: Float

    public static let runner = EntityKind(code: 1, name: "runner")
    public static let spectator = EntityKind(code: 3, name: "spectator")
    public enum Attribute: Int { case bib = 0, pace, lastSplit, finishTime }
    public enum Event {
        public static let start = SceneEvent.Kind(rawValue: 100)
        public static let split = SceneEvent.Kind(rawValue: 101)
        public static let finish = SceneEvent.Kind(rawValue: 102)
        public static let leaderboard = SceneEvent.Kind(rawValue: 103)
    }

    public init(course: Course, parameters p: [String: Double], stations: [Float]) {
        self.course = course
        runners = max(1, Int(p["runners"] ?? 10_000))
        spectators = max(0, Int(p["spectators"] ?? 300))
        distance = Float(p["distance"] ?? 42_195)
        waves = max(1, Int(p["waves"] ?? 4))
        waveGapSeconds = Float(p["waveGapSeconds"] ?? 60)
        roadHalfWidth = Float(p["roadHalfWidth"] ?? 5)
        self.stations = stations
    }

    public var kinds: [EntityKind] { [Self.runner, Self.spectator] }
    public var capacity: Int { runners + spectators }
    public var behaviour: any Behaviour {
        MarathonBehaviour(course: course, distance: distance, perWave: (runners + waves - 1) / waves, runners: runners,
                          waveGapSeconds: waveGapSeconds, stations: stations, roadHalfWidth: roadHalfWidth)
    }

    /// Finish times follow a skewed spread: few elites near 2:05, most between 3:30 and 5:00,
    /// a tail to 6:30 (seconds for the full distance, scaled to `distance`).
    static func finishSeconds(_ u: Float) -> Float {
        let t = 7_500 + (23_400 - 7_500) * (u * u * (3 - 2 * u)) * 0.85 + 15_900 * 0.15 * u
        return min(max(t, 7_500), 23_400)
    }

    public func populate(_ world: World, seed: UInt64) throws {
        world.attributes.declare(kind: Self.runner.code, [
            AttributeSpec("bib", .int32), AttributeSpec("pace", .float32),
            AttributeSpec("lastSplit", .float32), AttributeSpec("finishTime", .float32),
        ])
        var rng = SeededGenerator(seed: seed)
        // Faster runners in earlier waves and nearer the front, as real start corrals do.
        var paces = (0..<runners).map { _ in Self.finishSeconds(Float.random(in: 0..<1, using: &rng)) }
        paces.sort()
        let perWave = (runners + waves - 1) / waves
        for k in 0..<runners {
            let inWave = k % perWave   // the behaviour derives the wave from the slot
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
            // Behaviour state: goalX = distance run (negative: behind the line, waiting), goalY = lane.
            guard let d = world.store.dense(of: h) else { continue }
            world.store.goalX[d] = -behind
            world.store.goalY[d] = lane
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
    }

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
        // The ten furthest runners, once a second.
        if world.tick % UInt64(tickRate) == 0 {
            var best: [(Float, UInt32)] = []
            let store = world.store
            for i in 0..<store.count where store.kind[i] == Self.runner.code {
                let run = store.goalX[i]
                if best.count < 10 || run > best[best.count - 1].0 {
                    best.append((run, store.slot[i]))
                    best.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                    if best.count > 10 { best.removeLast() }
                }
            }
            for (rank, (_, slot)) in best.enumerated() {
                out.append(SceneEvent(tick: world.tick, entity: slot, kind: Event.leaderboard, value: Float(rank + 1)))
            }
        }
        return out
    }
}

