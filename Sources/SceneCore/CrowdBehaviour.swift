/// People walking: towards a goal at their preferred speed, keeping distance from
/// neighbours found through the grid, and picking a new free goal when they arrive or
/// after a while (so nobody stays stuck behind a building for long).
public struct CrowdBehaviour: Behaviour {
    /// Desired distance from neighbours, metres.
    public var personalSpace: Float
    /// Most neighbours considered per entity (the nearest cells are scanned first).
    public var maxNeighbours: Int
    /// Mean seconds between spontaneous goal changes.
    public var goalPatience: Float

    public init(personalSpace: Float = 0.8, maxNeighbours: Int = 6, goalPatience: Float = 40) {
        self.personalSpace = personalSpace
        self.maxNeighbours = maxNeighbours
        self.goalPatience = goalPatience
    }

    public func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        let grid = c.grid
        let columns = grid.columns
        let r2 = personalSpace * personalSpace
        // Entities consider a spontaneous goal change once a second (staggered by id), so
        // the random draw happens on a twentieth of ticks at 20 Hz.
        let period = max(1, UInt64((1 / c.dt).rounded()))
        let changeChance = min(1, Float(period) * c.dt / max(goalPatience, c.dt))
        let maxSeen = maxNeighbours * 4
        for i in range {
            let x = c.x[i], y = c.y[i]
            let id = Int(c.slot[i])
            var gx = o.goalX[i], gy = o.goalY[i]
            var dx = gx - x, dy = gy - y
            var dist2 = dx * dx + dy * dy
            let arrived = dist2 < 1
            // NaN goal (just spawned) compares false everywhere: pick one, with no event.
            let considers = (c.tick &+ UInt64(id)) % period == 0
            if arrived || !dist2.isFinite || (considers && SplitMix.unit(seed: c.seed, entity: id, tick: c.tick, salt: 1) < changeChance) {
                if arrived { events.append(SceneEvent(tick: c.tick, entity: UInt32(id), kind: .goalReached)) }
                let g = Self.freeGoal(c, entity: i)
                gx = g.x; gy = g.y
                o.goalX[i] = gx; o.goalY[i] = gy
                dx = gx - x; dy = gy - y
                dist2 = dx * dx + dy * dy
            }
            let s = c.speed[i]
            let inv = dist2 > 1e-12 ? s / dist2.squareRoot() : 0
            var wx = dx * inv, wy = dy * inv

            // Separation: push away from neighbours closer than personal space.
            var seen = 0
            // Only the cells that the personal-space circle overlaps (usually 1 to 4).
            let c0 = grid.column(x - personalSpace), c1 = grid.column(x + personalSpace)
            let r0 = grid.row(y - personalSpace), r1 = grid.row(y + personalSpace)
            scan: for row in r0...r1 {
                let from = Int(c.cellStart[row * columns + c0])
                let to = Int(c.cellStart[row * columns + c1 + 1])
                for k in from..<to {
                    if Int(c.gridEntries[k]) == i { continue }
                    let ex = x - c.gridX[k], ey = y - c.gridY[k]
                    let d2 = ex * ex + ey * ey
                    if d2 < r2 && d2 > 1e-10 {
                        let d = d2.squareRoot()
                        let push = (personalSpace - d) / (personalSpace * d) * s
                        wx += ex * push
                        wy += ey * push
                    }
                    seen &+= 1
                    if seen >= maxSeen { break scan }
                }
            }
            // Never ask for more than 1.5x the preferred speed.
            let w2 = wx * wx + wy * wy
            let cap = 1.5 * s
            if w2 > cap * cap {
                let scale = cap / w2.squareRoot()
                wx *= scale; wy *= scale
            }
            o.vx[i] = wx
            o.vy[i] = wy
        }
    }

    /// A goal outside every building, drawn from the entity's own random stream.
    static func freeGoal(_ c: StepContext, entity i: Int) -> SIMD2<Float> {
        var last = SIMD2<Float>(c.x[i], c.y[i])
        let id = Int(c.slot[i])
        for attempt in 0..<8 {
            let u = SplitMix.unit(seed: c.seed, entity: id, tick: c.tick, salt: 10 + UInt64(attempt) * 2)
            let v = SplitMix.unit(seed: c.seed, entity: id, tick: c.tick, salt: 11 + UInt64(attempt) * 2)
            let g = SIMD2(c.bounds.minX + u * c.bounds.width, c.bounds.minY + v * c.bounds.height)
            if !c.obstacles.isBlocked(g.x, g.y) { return g }
            last = g
        }
        return c.obstacles.nearestFreePoint(x: last.x, y: last.y) ?? SIMD2(c.x[i], c.y[i])
    }
}
