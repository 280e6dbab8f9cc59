import SceneCore

/// Operators on the factory floor: a person walking the aisles among the machines (which stop
/// them, as they stop everyone), to whom AGVs give way. Free mode or position fixes; no
/// treadmill and no start waves here.
extension FactoryScenario: ParticipantHost {
    public static let operatorKind = EntityKind(code: 6, name: "operator")
    public var participantKind: EntityKind { Self.operatorKind }
    /// A person walking: 2.5 m/s at most, 2 m/s², fixes within 10 m of noise.
    public var limits: HumanLimits { HumanLimits(maxSpeed: 2.5, maxAcceleration: 2, fixTolerance: 10) }
    public var participantHost: (any ParticipantHost)? { self }
    public var offersTreadmill: Bool { false }

    public func spawnParticipant(_ world: World, start: ParticipantStart, name: String, number: Int) throws(ParticipationRefusal) -> EntityHandle {
        guard let intentions else { throw .unsupported("the factory is not populated") }
        guard case .line = start else { throw .badValue("the factory floor has no start waves; join at the entrance (start 0)") }
        // The entrance: the floor's lower left corner, operators side by side along the wall.
        var p = SIMD2(floor.minX + 1.5 + Float(number % 6), floor.minY + 1.5 + Float(number / 6 % 3))
        if world.obstacles.isBlocked(p.x, p.y), let free = world.obstacles.nearestFreePoint(x: p.x, y: p.y) { p = free }
        let h: EntityHandle
        do { h = try world.spawn(kind: Self.operatorKind.code, x: p.x, y: p.y, speed: 0, key: "operator-\(number)") } catch {
            throw .full("the scene has no room for another entity (\(error))")
        }
        intentions.seat(h, name: name, startTick: Int32(clamping: world.tick), in: world)
        return h
    }
}

extension FactoryBehaviour {
    /// An operator: stands while away or before its first input, else walks towards its
    /// intention within a person's limits.
    func steerOperator(_ i: Int, context c: StepContext, output o: SteerOutput) {
        let p = steering.columns
        let mode = o.columns[p.mode, i]
        guard mode & ParticipantMode.awayFlag == 0, let m = ParticipantMode(rawValue: mode), m == .free || m == .fix else {
            o.vx[i] = 0; o.vy[i] = 0; o.columns[p.gait, i] = 0
            return
        }
        let (v, gait) = steering.freeOrFix(i, mode: m, context: c, output: o)
        o.vx[i] = v.x; o.vy[i] = v.y
        o.columns[p.gait, i] = gait
    }
}
