import SceneCore

/// A live synthetic match: two teams of eleven in a 4-4-2 and a ball. Players hold a
/// formation that shifts with the ball, the nearest of each team presses it; the team in
/// possession passes and, in the attacking third, shoots. Speeds stay under 10 m/s and
/// accelerations under 5 m/s². Events: 110 goal (value: the scoring team, 0 or 1), 111 pass,
/// 112 shot.
public final class FootballLiveScenario: Scenario {
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

    /// Team (0 home, 1 away), formation position (0 the goalkeeper) and formation spot of
    /// each player; the ball's rolling velocity.
    public private(set) var columns: FootballColumns?
    /// The players by team and formation position, and the ball.
    public private(set) var players: [[EntityHandle]] = [[], []]
    public private(set) var ball: EntityHandle?
    /// The player on the ball, until it kicks.
    var owner: EntityHandle?
    var holdUntil: UInt64 = 0
    /// Goals of the home and the away team.
    public private(set) var score = [0, 0]

    public init(centre: SIMD2<Float>) { self.centre = centre }

    public var kinds: [EntityKind] { [Self.player, Self.ball] }
    public var capacity: Int { 23 }

    public func populate(_ world: World, seed: UInt64) throws -> any Behaviour {
        let columns = FootballColumns(
            team: world.store.addColumn("team", initial: Int32(-1)),
            position: world.store.addColumn("position", initial: Int32(-1)),
            spotX: world.store.addColumn("spotX", initial: Float(0)),
            spotY: world.store.addColumn("spotY", initial: Float(0)),
            rollX: world.store.addColumn("rollX", initial: Float(0)),
            rollY: world.store.addColumn("rollY", initial: Float(0)))
        self.columns = columns
        for team in 0..<2 {
            for k in 0..<11 {
                let f = Self.formation[k] * (team == 0 ? 1 : -1)
                // speed is the player's top speed.
                let h = try world.spawn(kind: Self.player.code, x: centre.x + f.x, y: centre.y + f.y, speed: 7.5 + Float(k % 4) * 0.6,
                                        key: "\(team == 0 ? "home" : "away")-\(k + 1)")
                try world.store.set(columns.team, of: h, to: Int32(team))
                try world.store.set(columns.position, of: h, to: Int32(k))
                try world.store.set(columns.spotX, of: h, to: f.x)
                try world.store.set(columns.spotY, of: h, to: f.y)
                players[team].append(h)
            }
        }
        ball = try world.spawn(kind: Self.ball.code, x: centre.x, y: centre.y, speed: 0, key: "ball")
        return FootballLiveBehaviour(centre: centre, columns: columns)
    }

    /// Players: team, shirt number and role (goalkeeper, defender, midfielder, forward in the
    /// 4-4-2); the ball.
    public func identity(slot: UInt32, in world: World) -> EntityIdentity? {
        guard let d = world.store.dense(ofSlot: Int(slot)), let key = world.key(ofSlot: Int(slot)) else { return nil }
        guard let columns, world.store.kind[d] == Self.player.code else { return EntityIdentity(key: key, label: "ball", group: "ball") }
        let team = world.store[columns.team, dense: d], position = Int(world.store[columns.position, dense: d])
        let role = position == 0 ? "goalkeeper" : position <= 4 ? "defender" : position <= 8 ? "midfielder" : "forward"
        let side = team == 0 ? "home" : "away"
        return EntityIdentity(key: key, label: "\(side) \(position + 1), \(role)", group: side, number: UInt32(position + 1))
    }

    public var sceneWideEvents: Set<SceneEvent.Kind> { [Event.goal] }

    /// Possession, passes, shots and goals: serial, after each step.
    public func afterStep(_ world: World) -> [SceneEvent] {
        guard let columns, let ballHandle = ball, let ballDense = world.store.dense(of: ballHandle) else { return [] }
        let store = world.store
        let ball = SIMD2(store.x[ballDense], store.y[ballDense]) - centre
        var events: [SceneEvent] = []
        var kick: SIMD2<Float>?
        var reset = false
        let ownerSlot = UInt32(owner.map { Int($0.index) } ?? 0)
        decide: do {
            // Goal: the ball crosses a goal line between the posts.
            if abs(ball.x) > Self.pitch.x / 2 && abs(ball.y) < 3.66 {
                let team = ball.x > 0 ? 0 : 1
                score[team] += 1
                events.append(SceneEvent(tick: world.tick, entity: ownerSlot, kind: Event.goal, value: Float(team)))
                owner = nil
                reset = true
                break decide
            }
            if abs(ball.x) > Self.pitch.x / 2 || abs(ball.y) > Self.pitch.y / 2 { reset = true; owner = nil; break decide }
            // The nearest player within 1 m takes the ball. Ties (the two forwards pressing
            // symmetrically) go to the first in the store's order, which is deterministic.
            var nearest: EntityHandle?
            var best: Float = 1
            for d in 0..<store.count where store.kind[d] == Self.player.code {
                let p = SIMD2(store.x[d], store.y[d]) - centre
                let dist = ((p - ball) * (p - ball)).sum().squareRoot()
                if dist < best { best = dist; nearest = store.handle(slot: Int(store.slot[d])) }
            }
            if let nearest, nearest != owner {
                owner = nearest
                holdUntil = world.tick + 20 + SplitMix.value(seed: world.seed, entity: Int(nearest.index), tick: world.tick) % 40
            }
            guard let holder = owner, world.tick >= holdUntil, let od = store.dense(of: holder) else { break decide }
            let slot = Int(holder.index)
            let team = Int(store[columns.team, dense: od])
            let attack: Float = team == 0 ? 1 : -1
            let p = SIMD2(store.x[od], store.y[od]) - centre
            if p.x * attack > 20 {
                // Shoot at the goal, somewhere between the posts.
                let aim = SIMD2(attack * Self.pitch.x / 2 + attack, (SplitMix.unit(seed: world.seed, entity: slot, tick: world.tick, salt: 3) - 0.5) * 9)
                kick = (aim - ball) / max(((aim - ball) * (aim - ball)).sum().squareRoot(), 0.1) * 24
                events.append(SceneEvent(tick: world.tick, entity: UInt32(slot), kind: Event.shot))
            } else {
                // Pass to a teammate further up (an outfield position), chosen by the seed.
                let mate = players[team][1 + Int(SplitMix.value(seed: world.seed, entity: slot, tick: world.tick, salt: 4) % 10)]
                guard mate != holder, let md = store.dense(of: mate) else { break decide }
                let target = SIMD2(store.x[md], store.y[md]) - centre
                let dist = ((target - ball) * (target - ball)).sum().squareRoot()
                kick = (target - ball) / max(dist, 0.1) * min(18, 6 + dist * 0.6)
                events.append(SceneEvent(tick: world.tick, entity: UInt32(slot), kind: Event.pass, value: Float(mate.index)))
            }
            owner = nil
        }
        if reset {
            try? world.store.place(ballHandle, x: centre.x, y: centre.y)
            world.store[columns.rollX, dense: ballDense] = 0; world.store[columns.rollY, dense: ballDense] = 0
        } else if let kick {
            world.store[columns.rollX, dense: ballDense] = kick.x; world.store[columns.rollY, dense: ballDense] = kick.y
        }
        return events
    }
}

/// The columns a live match adds to its world's store.
public struct FootballColumns: Sendable {
    /// 0 home, 1 away; -1 for the ball.
    public let team: EntityColumn<Int32>
    /// Position in the formation, 0 the goalkeeper (shirt number minus one); -1 for the ball.
    public let position: EntityColumn<Int32>
    /// The player's formation spot, pitch metres from the centre.
    public let spotX: EntityColumn<Float>
    public let spotY: EntityColumn<Float>
    /// The ball's rolling velocity (a kick sets it after the step).
    public let rollX: EntityColumn<Float>
    public let rollY: EntityColumn<Float>
}

/// Players: formation slot shifted towards the ball, the nearest of each team presses it;
/// speed and acceleration capped. The ball rolls with friction.
struct FootballLiveBehaviour: Behaviour {
    let centre: SIMD2<Float>
    let columns: FootballColumns
    static let maxAcceleration: Float = 5

    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        // Find the ball by its kind (the store is small). Team and position are read for every
        // player: no block writes those columns during a step (only the ball's roll changes).
        var ball = centre
        for d in 0..<c.kind.count where c.kind[d] == FootballLiveScenario.ball.code { ball = SIMD2(c.x[d], c.y[d]) }
        for i in range {
            if c.kind[i] == FootballLiveScenario.ball.code {
                // Rolling: the velocity decays; a kick (set after the step) replaces it.
                let v = SIMD2(o.columns[columns.rollX, i], o.columns[columns.rollY, i]) * 0.985
                o.columns[columns.rollX, i] = v.x; o.columns[columns.rollY, i] = v.y
                o.vx[i] = v.x; o.vy[i] = v.y
                continue
            }
            let team = o.columns[columns.team, i]
            let keeper = o.columns[columns.position, i] == 0
            let here = SIMD2(c.x[i], c.y[i])
            var target = centre + SIMD2(o.columns[columns.spotX, i], o.columns[columns.spotY, i]) + (ball - centre) * SIMD2(0.45, 0.3)
            // The nearest outfield player of each team to the ball presses it.
            var nearest = true
            let myDistance = ((here - ball) * (here - ball)).sum()
            for d in 0..<c.kind.count where d != i && c.kind[d] == FootballLiveScenario.player.code
                && o.columns[columns.team, d] == team && o.columns[columns.position, d] != 0 {
                let q = SIMD2(c.x[d], c.y[d])
                if ((q - ball) * (q - ball)).sum() < myDistance { nearest = false; break }
            }
            if nearest && !keeper { target = ball }
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
