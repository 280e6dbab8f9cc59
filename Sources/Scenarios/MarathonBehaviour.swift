import SceneCore

/// How a marathon runner moves: along the course at its own pace (`speed`, m/s) in its lane,
/// from its wave's start; distance run, lane and wave are the scenario's columns.
struct MarathonBehaviour: Behaviour {
    let course: Course
    let distance: Float
    let runner: MarathonColumns
    let limits: HumanLimits
    let waveGapSeconds: Float
    let stations: [Float]
    let roadHalfWidth: Float

    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        let grid = c.grid
        let columns = grid.columns
        let lap = course.lapLength
        for i in range {
            let slot = Int(c.slot[i])
            if c.kind[i] == MarathonScenario.participant.code {
                steerParticipant(i, context: c, output: o, events: &events)
                continue
            }
            guard c.kind[i] == MarathonScenario.runner.code else {
                o.vx[i] = 0; o.vy[i] = 0   // spectators watch
                continue
            }
            let wave = Int(o.columns[runner.wave, i])
            let startTick = UInt64(Float(wave) * waveGapSeconds / c.dt)
            var run = o.columns[runner.run, i]
            var lane = o.columns[runner.lane, i]
            let x = c.x[i], y = c.y[i]
            if run >= distance {
                // Finished: walk off slowly towards the kerb.
                o.vx[i] = 0; o.vy[i] = 0
                continue
            }
            if c.tick < startTick {
                o.vx[i] = 0; o.vy[i] = 0
                continue
            }
            if c.tick == startTick {
                events.append(SceneEvent(tick: c.tick, entity: UInt32(slot), kind: MarathonScenario.Event.start))
            }
            let (_, dir) = course.locate(max(run, 0))
            let normal = SIMD2(-dir.y, dir.x)
            var pace = c.speed[i]
            // Congestion and drafting from the runners just ahead (through the grid).
            var blocked = false, drafting = false
            var aheadSpeed = Float.infinity
            // Every runner in reach counts, whatever order the grid holds them in: the result is
            // then the same in one process and in region shards whose stores hold the same
            // runners in other orders (docs/SCALEOUT.md, "Region shards"). Blocked: someone
            // 0.2 to 1.2 m ahead and within 0.55 m aside (the slowest of them sets the pace);
            // else drafting: someone 1.2 to 2.2 m ahead within 0.4 m. Each zone reads only the
            // grid cells under its strip, and stops as soon as more cannot change the result.
            let here = SIMD2(x, y)
            @inline(__always) func cells(along a: Float, _ b: Float, side w: Float) -> (Int, Int, Int, Int) {
                // The strip's bounding box, a centimetre wider so rounding never leaves out a
                // runner the zone's test takes.
                let a0 = dir * a, a1 = dir * b, n = normal * w, pad = SIMD2<Float>(repeating: 0.01)
                let lo = here + pointwiseMin(pointwiseMin(a0 - n, a0 + n), pointwiseMin(a1 - n, a1 + n)) - pad
                let hi = here + pointwiseMax(pointwiseMax(a0 - n, a0 + n), pointwiseMax(a1 - n, a1 + n)) + pad
                return (grid.column(lo.x), grid.column(hi.x), grid.row(lo.y), grid.row(hi.y))
            }
            var slowest2 = Float.infinity   // the slowest blocker's speed, squared
            let (ac0, ac1, ar0, ar1) = cells(along: 0.2, 1.2, side: 0.55)
            zoneA: for row in ar0...ar1 {
                for k in Int(c.cellStart[row * columns + ac0])..<Int(c.cellStart[row * columns + ac1 + 1]) {
                    let j = Int(c.gridEntries[k])
                    if j == i { continue }
                    let rel = SIMD2(c.gridX[k] - x, c.gridY[k] - y)
                    let along = (rel * dir).sum(), side = abs((rel * normal).sum())
                    guard along > 0.2 && along < 1.2 && side < 0.55 else { continue }
                    blocked = true
                    slowest2 = min(slowest2, c.vx[j] * c.vx[j] + c.vy[j] * c.vy[j])
                    // The pace is at least 0.3 m/s: nobody slower can change it.
                    if slowest2 <= 0.09 { break zoneA }
                }
            }
            if blocked {
                aheadSpeed = slowest2.squareRoot()
            } else {
                let (bc0, bc1, br0, br1) = cells(along: 1.2, 2.2, side: 0.4)
                zoneB: for row in br0...br1 {
                    for k in Int(c.cellStart[row * columns + bc0])..<Int(c.cellStart[row * columns + bc1 + 1]) {
                        if Int(c.gridEntries[k]) == i { continue }
                        let rel = SIMD2(c.gridX[k] - x, c.gridY[k] - y)
                        let along = (rel * dir).sum(), side = abs((rel * normal).sum())
                        if along >= 1.2 && along < 2.2 && side < 0.4 { drafting = true; break zoneB }
                    }
                }
            }
            if blocked {
                pace = min(pace, max(aheadSpeed, 0.3))
                // Look for a gap: drift towards one side, chosen per runner and tick.
                let side: Float = SplitMix.unit(seed: c.seed, entity: slot, tick: c.tick / 20, salt: 7) < 0.5 ? -1 : 1
                lane = min(max(lane + side * 0.15, -roadHalfWidth), roadHalfWidth)
            } else if drafting {
                pace *= 1.02
            }
            let onLap = run.truncatingRemainder(dividingBy: max(lap, 1))
            for s in stations where abs(onLap - s) < 8 { pace *= 0.55 }
            let before = run
            run = min(distance, max(run, 0) + pace * c.dt)
            let (target, _) = course.locate(run)
            let goal = target + normal * lane
            var v = (goal - SIMD2(x, y)) / c.dt
            let cap = 2 * max(pace, 1)
            let len = (v * v).sum().squareRoot()
            if len > cap { v *= cap / len }
            o.vx[i] = v.x; o.vy[i] = v.y
            // Splits at every kilometre, the finish at the distance.
            let elapsed = Float(c.tick + 1 - startTick) * c.dt
            if Int(max(before, 0) / 1000) < Int(run / 1000) && run < distance {
                events.append(SceneEvent(tick: c.tick, entity: UInt32(slot), kind: MarathonScenario.Event.split, value: elapsed))
            }
            if before < distance && run >= distance {
                events.append(SceneEvent(tick: c.tick, entity: UInt32(slot), kind: MarathonScenario.Event.finish, value: elapsed))
            }
            o.columns[runner.run, i] = run
            o.columns[runner.lane, i] = lane
        }
    }
}
