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
            let c0 = grid.column(x - 2.2), c1 = grid.column(x + 2.2), r0 = grid.row(y - 2.2), r1 = grid.row(y + 2.2)
            var seen = 0
            scan: for row in r0...r1 {
                for k in Int(c.cellStart[row * columns + c0])..<Int(c.cellStart[row * columns + c1 + 1]) {
                    let j = Int(c.gridEntries[k])
                    if j == i { continue }
                    seen += 1
                    // In a packed field a runner reacts to the first few it meets, not to
                    // everyone: the grid lists each cell's runners by slot
                    // (`World.canonicalCellOrder`), so which few depends on who is there, not
                    // on the store's order, and region shards meet the same ones as one
                    // process (docs/SCALEOUT.md, "Region shards").
                    if seen > 24 || (blocked && drafting) { break scan }
                    let rel = SIMD2(c.gridX[k] - x, c.gridY[k] - y)
                    let along = (rel * dir).sum(), side = abs((rel * normal).sum())
                    if along > 0.2 && along < 1.2 && side < 0.55 {
                        blocked = true
                        aheadSpeed = min(aheadSpeed, (c.vx[j] * c.vx[j] + c.vy[j] * c.vy[j]).squareRoot())
                    } else if along >= 1.2 && along < 2.2 && side < 0.4 {
                        drafting = true
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
