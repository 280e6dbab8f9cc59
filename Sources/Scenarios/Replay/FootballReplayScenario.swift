import Foundation
import SceneCore

/// A football match replayed from tracking data in real time at the scene's tick rate
/// (`ReplayTimeline`): frame-true where ticks fall on source frames, interpolated (or held)
/// between them; absent while the data has a gap; the ball at its height. Samples that lie
/// outside the scene's bounds are dropped and counted, never clamped. The source's period
/// and match clock go out as scene-wide events once a second and at each period's start.
/// The replay starts over at its end.
public final class FootballReplayScenario: Scenario {
    public let timeline: ReplayTimeline
    /// Where the pitch centre lies in the scene.
    public let centre: SIMD2<Float>
    /// Small ids for the tracked objects (order of first appearance).
    public let ids: [String: Int]
    /// Team, shirt number and role of the tracked objects, where the source has them.
    public let objects: [String: TrackedObject]
    /// Samples outside the scene's bounds (dropped), and how far beyond them the furthest lay.
    public let outside: (samples: Int, furthest: Double)
    /// What an operator should know about how the source is played (logged at start,
    /// printed by `scenes validate`).
    public let notes: [String]

    public static let player = EntityKind(code: 1, name: "player")
    public static let ball = EntityKind(code: 2, name: "ball")

    public enum Event {
        /// The source's match clock in seconds (the second half starts at 2700).
        public static let clock = SceneEvent.Kind(rawValue: 113)
        /// The source's period (1, 2; 3 and 4 extra time).
        public static let period = SceneEvent.Kind(rawValue: 114)
    }

    /// - Parameters:
    ///   - files: each source file's samples, pitch metres from the centre.
    ///   - bounds: the scene's bounds, in scene metres; samples beyond them are dropped.
    public init(files: [[TrackingSample]], stated: (rate: Double, from: String)?, tickRate: Int,
                resampling: ReplayTimeline.Resampling = .interpolate, halfTime: ReplayTimeline.HalfTime = .skip,
                centre: SIMD2<Float>, bounds: Rect, objects: [String: TrackedObject] = [:], rowsWithoutPosition: Int = 0,
                file: String) throws {
        var dropped = 0, furthest = 0.0
        var kept: [[TrackingSample]] = []
        var ids: [String: Int] = [:]
        for samples in files {
            kept.append(samples.filter { s in
                let x = Double(centre.x) + s.x, y = Double(centre.y) + s.y
                let beyond = max(Double(bounds.minX) - x, x - Double(bounds.maxX), Double(bounds.minY) - y, y - Double(bounds.maxY))
                guard beyond > 0 else {
                    if ids[s.id] == nil { ids[s.id] = ids.count }
                    return true
                }
                dropped += 1
                furthest = max(furthest, beyond)
                return false
            })
        }
        guard kept.contains(where: { !$0.isEmpty }) else {
            throw TrackingError(file: file, line: 0, problem: "every one of its \(dropped) samples lies outside the scene's bounds (pitch metres from the centre; check the layout or widen $.bounds)")
        }
        timeline = try ReplayTimeline(files: kept, stated: stated, tickRate: tickRate, resampling: resampling, halfTime: halfTime, file: file)
        self.centre = centre
        self.ids = ids
        self.objects = objects
        outside = (dropped, furthest)
        var notes = [timeline.summary]
        if dropped > 0 {
            notes.append("\(dropped) samples lie outside the scene's bounds (up to \(String(format: "%.1f", furthest)) m beyond) and are left out: those objects are absent there")
        }
        if rowsWithoutPosition > 0 { notes.append("\(rowsWithoutPosition) rows without a position or an id (empty values) are absences") }
        self.notes = notes
    }

    public var kinds: [EntityKind] { [Self.player, Self.ball] }
    public var capacity: Int { max(1, ids.count) }

    /// The samples the scene shows at `tick`.
    public func frame(at tick: UInt64) -> [TrackingSample] { timeline.samples(at: tick) }

    func position(_ s: TrackingSample) -> SIMD2<Float> { centre + SIMD2(Float(s.x), Float(s.y)) }

    public func populate(_ world: World, seed: UInt64) throws -> any Behaviour {
        world.attributes.declare(kind: Self.ball.code, [AttributeSpec("z", .float32)])
        sync(world, to: 0)
        return ReplayBehaviour()
    }

    /// Makes the world hold exactly the objects of frame `tick`: spawns the newly present
    /// (each tracked object is found again by its key, the source's id), despawns the absent,
    /// and places everyone at the frame's position (the step itself moves no one).
    func sync(_ world: World, to tick: UInt64) {
        let samples = frame(at: tick)
        let present = Set(samples.map(\.id))
        // The absent leave first (so the newly present always find room), in slot order, so
        // the slots freed and reused are the same on every run.
        for slot in 0..<world.store.slotCount {
            guard let key = world.key(ofSlot: slot), !present.contains(key), let h = world.entity(key: key) else { continue }
            try? world.despawn(h)
        }
        for s in samples {
            let p = position(s)
            let kind = s.id == "ball" ? Self.ball.code : Self.player.code
            let handle: EntityHandle
            if let h = world.entity(key: s.id) {
                handle = h
                try? world.place(h, x: p.x, y: p.y)
            } else {
                guard let h = try? world.spawn(kind: kind, x: p.x, y: p.y, speed: 0, key: s.id) else { continue }
                handle = h
            }
            if kind == Self.ball.code, let z = s.z { world.attributes.set(slot: handle.index, attribute: 0, float: Float(z)) }
        }
    }

    /// The ball's height, from a little below the turf (tracking noise) to far above any kick.
    public var heightKinds: [UInt8: ClosedRange<Float>] { [Self.ball.code: -1...60] }

    /// The source's id as key; team, shirt number and role where the data has them.
    public func identity(slot: UInt32, in world: World) -> EntityIdentity? {
        guard let key = world.key(ofSlot: Int(slot)) else { return nil }
        if key == "ball" { return EntityIdentity(key: key, label: "ball", group: "ball") }
        let o = objects[key] ?? TrackedObject()
        var label = o.team.isEmpty ? key : o.jersey > 0 ? "\(o.team) \(o.jersey)" : "\(o.team) \(key)"
        if !o.role.isEmpty { label += " (\(o.role.lowercased()))" }
        return EntityIdentity(key: key, label: label, group: o.team.isEmpty ? o.role : o.team, number: o.jersey)
    }

    public var sceneWideEvents: Set<SceneEvent.Kind> { [Event.clock, Event.period] }

    public func afterStep(_ world: World) -> [SceneEvent] {
        sync(world, to: world.tick)
        // The source's clock once a second of play and at each period's start, so a late
        // joiner has it within a second. Entity 0: these belong to no entity.
        guard world.tick % UInt64(timeline.tickRate) == 0 || timeline.startsSegment(world.tick) else { return [] }
        let (period, seconds) = timeline.clock(at: world.tick)
        return [SceneEvent(tick: world.tick, entity: 0, kind: Event.clock, value: Float(seconds)),
                SceneEvent(tick: world.tick, entity: 0, kind: Event.period, value: Float(period ?? 1))]
    }
}

/// Moves no one: the scenario places each tracked object at its frame position after the
/// step, so the tick's positions, presence and height all come from one source frame.
struct ReplayBehaviour: Behaviour {
    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        for i in range { o.vx[i] = 0; o.vy[i] = 0 }
    }
}
