import SceneCore
import Synchronization

/// A live synthetic match: two teams of eleven in a 4-4-2 and a ball. Players hold a
/// formation that shifts with the ball, the nearest of each team presses it; the team in
/// possession passes and, in the attacking third, shoots. Speeds stay under 10 m/s and
/// accelerations under 5 m/s². Events: 110 goal (value: the scoring team, 0 or 1), 111 pass,
/// 112 shot.
public final class FootballLiveScenario: Scenario, Sendable {
    public let centre: SIMD2<Float>
    public static let pitch = SIMD2<Float>(105, 68)
    public static let player = EntityKind(code: 1, name: "player")
    public static let ball = EntityKind(code: 2, name: "ball")
    public enum Event {
        public static let goal = SceneEvent.Kind(rawValue: 110)
        public static let pass = SceneEvent.Kind(rawValue: 111)
        public static let shot = SceneEvent.Kind(rawValue: 112)
    }
    /// Formation slots of the home team (attacking +x), in pitch metres from the centre.
    static let formation: [SIMD2<Float>] = [
        SIMD2(-48, 0),
        SIMD2(-32, -24), SIMD2(-34, -8), SIMD2(-34, 8), SIMD2(-32, 24),
        SIMD2(-12, -24), SIMD2(-14, -8), SIMD2(-14, 8), SIMD2(-12, 24),
        SIMD2(6, -8), SIMD2(6, 8),
    ]

    struct Match: Sendable {
        var owner: Int = -1          // slot of the player on the ball
        var holdUntil: UInt64 = 0
        var score = [0, 0]
    }
    let match = Mutex(Match())

    public init(centre: SIMD2<Float>) { self.centre = centre }

    public var kinds: [EntityKind] { [Self.player, Self.ball] }
    public var capacity: Int { 23 }
    public var behaviour: any Behaviour { FootballLiveBehaviour(centre: centre) }
    public var score: [Int] { match.withLock { $0.score } }

    public func populate(_ world: World, seed: UInt64) throws {
        for team in 0..<2 {
            for k in 0..<11 {
                let f = Self.formation[k] * (team == 0 ? 1 : -1)
                // goalX/goalY hold the formation slot; speed the player's top speed.
                let h = try world.spawn(kind: Self.player.code, x: centre.x + f.x, y: centre.y + f.y, speed: 7.5 + Float(k % 4) * 0.6)
                if let d = world.store.dense(of: h) { world.store.goalX[d] = f.x; world.store.goalY[d] = f.y }
            }
        }
        let b = try world.spawn(kind: Self.ball.code, x: centre.x, y: centre.y, speed: 0)
        if let d = world.store.dense(of: b) { world.store.goalX[d] = 0; world.store.goalY[d] = 0 }   // ball: its velocity
    }

    /// Possession, passes, shots and goals: serial, after each step.
    public func afterStep(_ world: World) -> [SceneEvent] {
        let store = world.store
        guard let ballDense = store.dense(ofSlot: 22) else { return [] }
        let ball = SIMD2(store.x[ballDense], store.y[ballDense]) - centre
        var events: [SceneEvent] = []
        var kick: SIMD2<Float>?
        var reset = false
        match.withLock { m in
            // Goal: the ball crosses a goal line between the posts.
            if abs(ball.x) > Self.pitch.x / 2 && abs(ball.y) < 3.66 {
                let team = ball.x > 0 ? 0 : 1
                m.score[team] += 1
                events.append(SceneEvent(tick: world.tick, entity: UInt32(max(m.owner, 0)), kind: Event.goal, value: Float(team)))
                m.owner = -1
                reset = true
                return
            }
            if abs(ball.x) > Self.pitch.x / 2 || abs(ball.y) > Self.pitch.y / 2 { reset = true; m.owner = -1; return }
            // The nearest player within 1 m takes the ball.
            var nearest = -1
            var best: Float = 1
            for d in 0..<store.count where store.slot[d] < 22 {
                let p = SIMD2(store.x[d], store.y[d]) - centre
                let dist = ((p - ball) * (p - ball)).sum().squareRoot()
                if dist < best { best = dist; nearest = Int(store.slot[d]) }
            }
            if nearest >= 0 && nearest != m.owner {
                m.owner = nearest
                m.holdUntil = world.tick + 20 + SplitMix.value(seed: world.seed, entity: nearest, tick: world.tick) % 40
            }
            guard m.owner >= 0, world.tick >= m.holdUntil, let od = store.dense(ofSlot: m.owner) else { return }
            let team = m.owner / 11
            let attack: Float = team == 0 ? 1 : -1
            let p = SIMD2(store.x[od], store.y[od]) - centre
            if p.x * attack > 20 {
                // Shoot at the goal, somewhere between the posts.
                let aim = SIMD2(attack * Self.pitch.x / 2 + attack, (SplitMix.unit(seed: world.seed, entity: m.owner, tick: world.tick, salt: 3) - 0.5) * 9)
                kick = (aim - ball) / max(((aim - ball) * (aim - ball)).sum().squareRoot(), 0.1) * 24
                events.append(SceneEvent(tick: world.tick, entity: UInt32(m.owner), kind: Event.shot))
            } else {
                // Pass to a teammate further up, chosen by the seed.
                let mate = team * 11 + 1 + Int(SplitMix.value(seed: world.seed, entity: m.owner, tick: world.tick, salt: 4) % 10)
                guard mate != m.owner, let md = store.dense(ofSlot: mate) else { return }
                let target = SIMD2(store.x[md], store.y[md]) - centre
                let dist = ((target - ball) * (target - ball)).sum().squareRoot()
                kick = (target - ball) / max(dist, 0.1) * min(18, 6 + dist * 0.6)
                events.append(SceneEvent(tick: world.tick, entity: UInt32(m.owner), kind: Event.pass, value: Float(mate)))
            }
            m.owner = -1
        }
        if reset {
            try? world.store.place(EntityHandle(index: 22, generation: store.generation[22]), x: centre.x, y: centre.y)
            world.store.goalX[ballDense] = 0; world.store.goalY[ballDense] = 0
        } else if let kick {
            world.store.goalX[ballDense] = kick.x; world.store.goalY[ballDense] = kick.y
        }
        return events
    }
}

/// Players: formation slot shifted towards the ball, the nearest of each team presses it;
/// speed and acceleration capped. The ball rolls with friction (its goal is its velocity).
struct FootballLiveBehaviour: Behaviour {
    let centre: SIMD2<Float>
    static let maxAcceleration: Float = 5

    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        // The ball is entity slot 22; find it (the store is small).
        var ball = centre
        for d in 0..<c.slot.count where c.slot[d] == 22 { ball = SIMD2(c.x[d], c.y[d]) }
        for i in range {
            let slot = Int(c.slot[i])
            if slot == 22 {
                // Rolling: the velocity decays; a kick (set after the step) replaces it.
                let v = SIMD2(o.goalX[i], o.goalY[i]) * 0.985
                o.goalX[i] = v.x; o.goalY[i] = v.y
                o.vx[i] = v.x; o.vy[i] = v.y
                continue
            }
            let team = slot / 11
            let here = SIMD2(c.x[i], c.y[i])
            var target = centre + SIMD2(o.goalX[i], o.goalY[i]) + (ball - centre) * SIMD2(0.45, 0.3)
            // The nearest outfield player of each team to the ball presses it.
            var nearest = true
            let myDistance = ((here - ball) * (here - ball)).sum()
            for d in 0..<c.slot.count where Int(c.slot[d]) / 11 == team && c.slot[d] != 22 && Int(c.slot[d]) % 11 != 0 && Int(c.slot[d]) != slot {
                let q = SIMD2(c.x[d], c.y[d])
                if ((q - ball) * (q - ball)).sum() < myDistance { nearest = false; break }
            }
            if nearest && slot % 11 != 0 { target = ball }
            var want = target - here
            let dist = (want * want).sum().squareRoot()
            let top = c.speed[i]
            want = dist > 0.01 ? want / dist * min(top, dist * 2) : .zero
            // Human limits: change of velocity at most 5 m/s² x dt, speed at most 10 m/s.
            let old = SIMD2(c.vx[i], c.vy[i])
            var dv = want - old
            let dvLength = (dv * dv).sum().squareRoot()
            let maxDv = Self.maxAcceleration * c.dt
            if dvLength > maxDv { dv *= maxDv / dvLength }
            var v = old + dv
            let speed = (v * v).sum().squareRoot()
            if speed > 10 { v *= 10 / speed }
            o.vx[i] = v.x; o.vy[i] = v.y
        }
    }
}
