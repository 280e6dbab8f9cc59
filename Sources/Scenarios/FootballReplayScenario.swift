import SceneCore

/// A football match replayed from tracking data, frame-true: after tick T the world holds
/// exactly the objects of source frame T, each where that frame puts it (pitch coordinates
/// shifted into the scene), absent while the data has a gap, and the ball carries frame T's
/// height as its attribute z. The replay starts over at its end.
public final class FootballReplayScenario: Scenario {
    /// Samples per tick, in pitch metres (origin at the centre).
    public let frames: [[TrackingSample]]
    /// Where the pitch centre lies in the scene.
    public let centre: SIMD2<Float>
    /// Small ids for the tracked objects (order of first appearance), which order each frame.
    public let ids: [String: Int]
    /// Team, shirt number and role of the tracked objects, where the source has them.
    public let objects: [String: TrackedObject]

    public static let player = EntityKind(code: 1, name: "player")
    public static let ball = EntityKind(code: 2, name: "ball")

    /// Groups samples into ticks at `tickRate` (taking every n-th source frame when the
    /// source is faster, e.g. Hawk-Eye's 50 Hz at 25 Hz).
    public init(samples: [TrackingSample], sourceRate: Double, tickRate: Int, centre: SIMD2<Float>, objects: [String: TrackedObject] = [:]) {
        self.objects = objects
        let step = max(1, Int((sourceRate / Double(tickRate)).rounded()))
        let first = samples.map(\.frame).min() ?? 0
        var byTick: [Int: [TrackingSample]] = [:]
        var ids: [String: Int] = [:]
        for s in samples {
            if ids[s.id] == nil { ids[s.id] = ids.count }
            guard (s.frame - first) % step == 0 else { continue }
            byTick[(s.frame - first) / step, default: []].append(s)
        }
        let count = (byTick.keys.max() ?? -1) + 1
        frames = (0..<count).map { t in (byTick[t] ?? []).sorted { ids[$0.id]! < ids[$1.id]! } }
        self.centre = centre
        self.ids = ids
    }

    public var kinds: [EntityKind] { [Self.player, Self.ball] }
    public var capacity: Int { max(1, ids.count) }

    /// The samples the scene shows at `tick`.
    public func frame(at tick: UInt64) -> [TrackingSample] {
        frames.isEmpty ? [] : frames[Int(tick % UInt64(frames.count))]
    }

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

    public func afterStep(_ world: World) -> [SceneEvent] {
        sync(world, to: world.tick)
        return []
    }
}

/// Moves no one: the scenario places each tracked object at its frame position after the
/// step, so the tick's positions, presence and height all come from one source frame.
struct ReplayBehaviour: Behaviour {
    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        for i in range { o.vx[i] = 0; o.vy[i] = 0 }
    }
}
