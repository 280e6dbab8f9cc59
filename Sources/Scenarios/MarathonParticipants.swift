import Foundation
import SceneCore

/// The columns a participant's intention lives in (every entity has them; simulated runners
/// keep `mode` 0). Written between steps by the host, read by the behaviour.
public struct ParticipantColumns: Sendable {
    /// `ParticipantMode` raw value, plus `ParticipantMode.awayFlag` while away.
    public let mode: EntityColumn<Int32>
    /// Treadmill: the wanted speed. Free: the heading. Fix: the target's x.
    public let a: EntityColumn<Float>
    /// Free: the wanted speed. Fix: the target's y.
    public let b: EntityColumn<Float>
    /// The speed reached so far (the acceleration limit works on it).
    public let gait: EntityColumn<Float>
    /// The tick the participant starts at.
    public let startTick: EntityColumn<Int32>
}

/// How a participant's entity is driven.
public enum ParticipantMode: Int32, Sendable {
    /// A simulated entity, not a participant.
    case simulated = 0
    /// Joined, no input yet.
    case standing = 1
    case treadmill = 2
    case free = 3
    case fix = 4
    public static let awayFlag: Int32 = 16
}

extension MarathonScenario: ParticipantHost {
    public static let participant = EntityKind(code: 4, name: "participant")
    public var participantKind: EntityKind { Self.participant }
    public var participantHost: (any ParticipantHost)? { self }
    public var offersTreadmill: Bool { true }
    public var limits: HumanLimits { .runner }

    /// Bib numbers of participants follow the simulated field's.
    func participantBib(_ number: Int) -> Int32 { Int32(clamping: runners + number) }

    public func spawnParticipant(_ world: World, start: ParticipantStart, name: String, number: Int) throws(ParticipationRefusal) -> EntityHandle {
        guard let columns else { throw .unsupported("the marathon is not populated") }
        let wave: Int, behind: Float, startTick: Int32
        switch start {
        case .wave(let w):
            guard w >= 0 && w < waves else { throw .badValue("wave \(w + 1) does not exist; this marathon has waves 1 to \(waves)") }
            wave = w
            let due = Int32(clamping: Int64(Float(w) * waveGapSeconds / world.dt))
            startTick = max(due, Int32(clamping: world.tick))
            // A few metres behind the line, spread across the road by number.
            behind = 2 + Float(number % 7)
        case .line:
            wave = -2; behind = 0; startTick = Int32(clamping: world.tick)
        }
        let lane = -roadHalfWidth + 0.5 + Float(number % max(1, Int(roadHalfWidth * 2 - 1)))
        let (at, dir) = course.locate(-behind)
        var xy = at + SIMD2(-dir.y, dir.x) * lane
        if world.obstacles.isBlocked(xy.x, xy.y), let free = world.obstacles.nearestFreePoint(x: xy.x, y: xy.y) { xy = free }
        let h: EntityHandle
        do { h = try world.spawn(kind: Self.participant.code, x: xy.x, y: xy.y, speed: 0) } catch {
            throw .full("the scene has no room for another entity (\(error))")
        }
        let bib = participantBib(number)
        world.attributes.set(slot: h.index, attribute: Attribute.bib.rawValue, int: bib)
        try? world.store.set(columns.run, of: h, to: -behind)
        try? world.store.set(columns.lane, of: h, to: lane)
        try? world.store.set(columns.wave, of: h, to: Int32(wave))
        intentions?.seat(h, name: name, startTick: startTick, in: world)
        return h
    }
}

extension MarathonBehaviour {
    /// A participant: towards its intention within the human limits; obstacles apply in the
    /// integrate stage as to everyone. Splits and the finish as for simulated runners.
    func steerParticipant(_ i: Int, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        let p = runner.participant
        let slot = c.slot[i]
        let mode = o.columns[p.mode, i]
        let startTick = UInt64(max(0, o.columns[p.startTick, i]))
        var run = o.columns[runner.run, i]
        let x = c.x[i], y = c.y[i], pos = SIMD2(x, y)
        let stopped = mode & ParticipantMode.awayFlag != 0 || c.tick < startTick || run >= distance
        if c.tick == startTick {
            events.append(SceneEvent(tick: c.tick, entity: slot, kind: MarathonScenario.Event.start))
        }
        guard !stopped, let m = ParticipantMode(rawValue: mode) else {
            o.vx[i] = 0; o.vy[i] = 0; o.columns[p.gait, i] = 0
            return
        }
        let steering = IntentionSteering(columns: p, limits: limits)
        var gait = o.columns[p.gait, i]
        var v = SIMD2<Float>(0, 0)
        let before = run
        switch m {
        case .treadmill:
            gait = steering.approach(gait, o.columns[p.a, i], dt: c.dt)
            run = min(distance, max(run, 0) + gait * c.dt)
            let (target, dir) = course.locate(run)
            let goal = target + SIMD2(-dir.y, dir.x) * o.columns[runner.lane, i]
            v = (goal - pos) / c.dt
            let len = (v * v).sum().squareRoot()
            if len > limits.maxSpeed { v *= limits.maxSpeed / len }
        default:
            (v, gait) = steering.freeOrFix(i, mode: m, context: c, output: o)
        }
        if m == .free || m == .fix {
            // Off the treadmill the distance run is where the course passes closest, never
            // more than the step allows (no short cuts across the loop).
            if let along = course.project(pos + v * c.dt, near: max(run, 0), window: 40, within: roadHalfWidth + 10) {
                run = min(distance, max(run, min(along, max(run, 0) + limits.maxSpeed * c.dt)))
            }
        }
        o.vx[i] = v.x; o.vy[i] = v.y
        o.columns[p.gait, i] = gait
        o.columns[runner.run, i] = run
        let elapsed = Float(c.tick + 1 - startTick) * c.dt
        if Int(max(before, 0) / 1000) < Int(max(run, 0) / 1000) && run < distance {
            events.append(SceneEvent(tick: c.tick, entity: slot, kind: MarathonScenario.Event.split, value: elapsed))
        }
        if before < distance && run >= distance {
            events.append(SceneEvent(tick: c.tick, entity: slot, kind: MarathonScenario.Event.finish, value: elapsed))
        }
    }
}

extension Course {
    /// The distance along the course (laps counted from `s`'s) of the point nearest `p` among
    /// those within `window` metres of `s`, if that point is within `within` metres of `p`.
    func project(_ p: SIMD2<Float>, near s: Float, window: Float, within: Float) -> Float? {
        guard lapLength > 0, points.count >= 2 else { return nil }
        let lapStart = (s / lapLength).rounded(.down) * lapLength
        var best: (d2: Float, s: Float)?
        for lap in [lapStart - lapLength, lapStart, lapStart + lapLength] {
            for k in points.indices {
                let a = points[k], b = points[(k + 1) % points.count]
                let s0 = lap + cumulative[k], s1 = lap + cumulative[k + 1]
                guard s1 >= s - window && s0 <= s + window else { continue }
                let ab = b - a, l2 = (ab * ab).sum()
                var t = l2 > 0 ? ((p - a) * ab).sum() / l2 : 0
                t = min(1, max(0, t))
                let along = s0 + t * (s1 - s0)
                guard abs(along - s) <= window else { continue }
                let q = a + ab * t, d2 = ((p - q) * (p - q)).sum()
                if best == nil || d2 < best!.d2 { best = (d2, along) }
            }
        }
        guard let best, best.d2 <= within * within else { return nil }
        return best.s
    }
}
