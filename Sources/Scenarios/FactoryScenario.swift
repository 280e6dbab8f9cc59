import SceneCore

/// A monitored factory floor: rows of machines with sensor telemetry (temperature,
/// vibration, spindle speed, power, state), AGVs shuttling between stations along the
/// aisles without running into each other or the machines, and workers on foot.
///
/// Telemetry is sampled once a second, at sensor resolution, so it is sent only when a value
/// changes. Alarms are threshold crossings with hysteresis: temperature raised above 80 °C,
/// cleared below 75 °C (events 120/121); vibration above 7 mm/s, cleared below 5 (122/123).
/// An operator's fault control sets a machine to fault: it heats up and shakes, and the
/// alarms show it.
public final class FactoryScenario: Scenario {
    public static let worker = EntityKind(code: 1, name: "worker")
    public static let machine = EntityKind(code: 4, name: "machine")
    public static let agv = EntityKind(code: 5, name: "agv")
    public enum Attribute: Int { case temperature = 0, vibration, spindle, power, state }
    public enum State: Int32, Sendable { case idle = 0, running = 1, fault = 2 }
    public enum Event {
        public static let temperatureAlarm = SceneEvent.Kind(rawValue: 120)
        public static let temperatureClear = SceneEvent.Kind(rawValue: 121)
        public static let vibrationAlarm = SceneEvent.Kind(rawValue: 122)
        public static let vibrationClear = SceneEvent.Kind(rawValue: 123)
    }

    public let floor: Rect
    public let machineRows: Int, machineColumns: Int, agvs: Int, workers: Int
    public var machines: Int { machineRows * machineColumns }
    /// The machines' entities, by machine number (keys "machine-1", ...).
    public private(set) var machineEntities: [EntityHandle] = []
    /// Each AGV's station (an index into `stations`, -1 while it picks one); each machine's
    /// number (-1 for AGVs and workers).
    public private(set) var columns: FactoryColumns?

    struct MachineState: Sendable {
        var temperature: Float = 40, vibration: Float = 1.5, spindle: Float = 0, power: Float = 0.5
        var state = State.idle
        var hot = false, shaking = false
    }
    /// Telemetry of each machine, by machine number.
    var telemetry: [MachineState]
    /// Operators' intentions and names (made in `populate`).
    public private(set) var intentions: ParticipantIntentions?

    public init(floor: Rect, parameters p: FactoryParameters) {
        self.floor = floor
        machineRows = p.machineRows
        machineColumns = p.machineColumns
        agvs = p.agvs
        workers = p.workers
        telemetry = Array(repeating: MachineState(), count: p.machineRows * p.machineColumns)
    }

    public var kinds: [EntityKind] { [Self.worker, Self.machine, Self.agv, Self.operatorKind] }
    public var capacity: Int { machines + agvs + workers }

    /// Machine k's centre: a grid with 6 m aisles between 3 m machines.
    public func machineCentre(_ k: Int) -> SIMD2<Float> {
        let row = k / machineColumns, col = k % machineColumns
        return SIMD2(floor.minX + 8 + Float(col) * 9, floor.minY + 8 + Float(row) * 9)
    }

    /// Where AGVs load and unload: the aisle beside each machine.
    public var stations: [SIMD2<Float>] { (0..<machines).map { machineCentre($0) + SIMD2(4.5, 0) } }

    /// Machines are obstacles: 3 x 3 m footprints.
    public var footprints: [Footprint] {
        (0..<machines).map { k in
            let c = machineCentre(k)
            return Footprint(rings: [[c + SIMD2(-1.5, -1.5), c + SIMD2(1.5, -1.5), c + SIMD2(1.5, 1.5), c + SIMD2(-1.5, 1.5)]], height: 2.5)
        }
    }

    public func populate(_ world: World, seed: UInt64) throws -> any Behaviour {
        let columns = FactoryColumns(machine: world.store.addColumn("machine", initial: Int32(-1)),
                                     station: world.store.addColumn("station", initial: Int32(-1)))
        self.columns = columns
        // Operators (participants) have one attribute: away (1 while their connection is gone).
        world.attributes.declare(kind: Self.operatorKind.code, [AttributeSpec("away", .int32)])
        let intentions = ParticipantIntentions(world: world, limits: limits, awayAttribute: 0)
        self.intentions = intentions
        world.attributes.declare(kind: Self.machine.code, [
            AttributeSpec("temperature", .float32), AttributeSpec("vibration", .float32),
            AttributeSpec("spindle", .float32), AttributeSpec("power", .float32), AttributeSpec("state", .int32),
        ])
        for k in 0..<machines {
            let c = machineCentre(k)
            // The operator side of the machine.
            let h = try world.spawn(kind: Self.machine.code, x: c.x, y: c.y + 1.6, speed: 0, key: "machine-\(k + 1)")
            try world.store.set(columns.machine, of: h, to: Int32(k))
            machineEntities.append(h)
        }
        var rng = SeededGenerator(seed: seed)
        for k in 0..<agvs {
            let s = stations[k % stations.count]
            try world.spawn(kind: Self.agv.code, x: s.x, y: s.y, speed: 1.5, key: "agv-\(k + 1)")
        }
        for k in 0..<workers {
            var p = SIMD2(Float.random(in: floor.minX..<floor.maxX, using: &rng), Float.random(in: floor.minY..<floor.maxY, using: &rng))
            if world.obstacles.isBlocked(p.x, p.y) { p = world.obstacles.nearestFreePoint(x: p.x, y: p.y) ?? p }
            try world.spawn(kind: Self.worker.code, x: p.x, y: p.y, speed: 1.2, key: "worker-\(k + 1)")
        }
        return FactoryBehaviour(floor: floor, stations: stations, columns: columns, steering: intentions.steering)
    }

    /// The machine number of the entity in `slot`, nil when it is not a machine.
    public func machine(slot: UInt32, in world: World) -> Int? {
        guard let columns, let h = world.store.handle(slot: Int(slot)), let k = world.store.value(columns.machine, of: h), k >= 0 else { return nil }
        return Int(k)
    }

    /// Machines: id, a name with its place on the floor and its type; AGVs and workers by id.
    public func identity(slot: UInt32, in world: World) -> EntityIdentity? {
        guard let d = world.store.dense(ofSlot: Int(slot)), let key = world.key(ofSlot: Int(slot)) else { return nil }
        switch world.store.kind[d] {
        case Self.machine.code:
            let k = machine(slot: slot, in: world) ?? 0
            let row = k / machineColumns, col = k % machineColumns
            // Rows are production lines, lettered; the type alternates along a line.
            let line = String(UnicodeScalar(UInt8(65 + row % 26)))
            let type = col % 2 == 0 ? "CNC mill" : "lathe"
            return EntityIdentity(key: key, label: "\(type) \(line)\(col + 1)", group: "line \(line)", number: UInt32(k + 1))
        case Self.agv.code:
            return EntityIdentity(key: key, label: "AGV \(key.dropFirst(4))", group: "AGVs", number: UInt32(key.dropFirst(4)) ?? 0)
        case Self.operatorKind.code:
            return EntityIdentity(key: key, label: intentions?.names[slot] ?? "operator", group: "operators", number: UInt32(key.dropFirst(9)) ?? 0)
        default:
            return EntityIdentity(key: key, label: "worker \(key.dropFirst(7))", group: "workers", number: UInt32(key.dropFirst(7)) ?? 0)
        }
    }

    /// Sets a machine to fault (an operator's control). False when `slot` is not a machine.
    public func injectFault(slot: UInt32, in world: World) -> Bool {
        guard let k = machine(slot: slot, in: world) else { return false }
        telemetry[k].state = .fault
        return true
    }

    public func afterStep(_ world: World) -> [SceneEvent] {
        let tickRate = max(1, UInt64((1 / world.dt).rounded()))
        guard world.tick % tickRate == 0 else { return [] }
        var events: [SceneEvent] = []
        do {
            for k in telemetry.indices {
                var m = telemetry[k]
                let noise = { (salt: UInt64) in SplitMix.unit(seed: world.seed, entity: k, tick: world.tick, salt: salt) - 0.5 }
                // Duty cycle: machines run most of the time, idle now and then.
                if m.state != .fault {
                    m.state = SplitMix.unit(seed: world.seed, entity: k, tick: world.tick / (tickRate * 30), salt: 9) < 0.8 ? .running : .idle
                }
                let (targetTemp, targetVib, targetSpindle, targetPower): (Float, Float, Float, Float) = switch m.state {
                case .running: (62, 3, 8_000, 7.5)
                case .idle: (38, 1.2, 0, 0.6)
                case .fault: (95, 9.5, 1_500, 11)
                }
                m.temperature += (targetTemp - m.temperature) * 0.08 + noise(1) * 0.6
                m.vibration += (targetVib - m.vibration) * 0.2 + noise(2) * 0.3
                m.spindle += (targetSpindle - m.spindle) * 0.3 + noise(3) * 40
                m.power += (targetPower - m.power) * 0.3 + noise(4) * 0.2
                // Sensor resolution: 0.1 °C, 0.1 mm/s, 10 rpm, 0.1 kW.
                let temperature = (m.temperature * 10).rounded() / 10, vibration = (max(0, m.vibration) * 10).rounded() / 10
                let spindle = (max(0, m.spindle) / 10).rounded() * 10, power = (max(0, m.power) * 10).rounded() / 10
                let slot = machineEntities[k].index
                world.attributes.set(slot: slot, attribute: Attribute.temperature.rawValue, float: temperature)
                world.attributes.set(slot: slot, attribute: Attribute.vibration.rawValue, float: vibration)
                world.attributes.set(slot: slot, attribute: Attribute.spindle.rawValue, float: spindle)
                world.attributes.set(slot: slot, attribute: Attribute.power.rawValue, float: power)
                world.attributes.set(slot: slot, attribute: Attribute.state.rawValue, int: m.state.rawValue)
                // Alarms with hysteresis.
                if !m.hot && temperature > 80 { m.hot = true; events.append(SceneEvent(tick: world.tick, entity: slot, kind: Event.temperatureAlarm, value: temperature)) }
                if m.hot && temperature < 75 { m.hot = false; events.append(SceneEvent(tick: world.tick, entity: slot, kind: Event.temperatureClear, value: temperature)) }
                if !m.shaking && vibration > 7 { m.shaking = true; events.append(SceneEvent(tick: world.tick, entity: slot, kind: Event.vibrationAlarm, value: vibration)) }
                if m.shaking && vibration < 5 { m.shaking = false; events.append(SceneEvent(tick: world.tick, entity: slot, kind: Event.vibrationClear, value: vibration)) }
                telemetry[k] = m
            }
        }
        return events
    }

    /// Clears a fault (the machine is repaired and idles).
    public func repair(slot: UInt32, in world: World) {
        guard let k = machine(slot: slot, in: world) else { return }
        telemetry[k].state = .idle
    }
}

/// The columns a factory adds to its world's store.
public struct FactoryColumns: Sendable {
    /// The machine's number, -1 for AGVs and workers.
    public let machine: EntityColumn<Int32>
    /// An AGV's station (index into `FactoryScenario.stations`), -1 while it picks one.
    public let station: EntityColumn<Int32>
}

/// Machines stand; AGVs drive to a station along the aisles (x first, then y), stopping for
/// anything within 2 m ahead (people always have the right of way); workers walk like the
/// crowd; operators (participants) walk where their inputs say.
struct FactoryBehaviour: Behaviour {
    let floor: Rect
    let stations: [SIMD2<Float>]
    let columns: FactoryColumns
    let steering: IntentionSteering

    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        let crowd = CrowdBehaviour(personalSpace: 0.8, maxNeighbours: 6, goalPatience: 30)
        let grid = c.grid
        for i in range {
            let slot = Int(c.slot[i])
            if c.kind[i] == FactoryScenario.machine.code { o.vx[i] = 0; o.vy[i] = 0; continue }
            if c.kind[i] == FactoryScenario.operatorKind.code { steerOperator(i, context: c, output: o); continue }
            if c.kind[i] == FactoryScenario.worker.code {
                crowd.steer(range: i..<(i + 1), context: c, output: o, events: &events)
                continue
            }
            // AGV: drives to its station (-1: pick one).
            var station = Int(o.columns[columns.station, i])
            let here = SIMD2(c.x[i], c.y[i])
            if station < 0 || station >= stations.count {
                station = Int(SplitMix.value(seed: c.seed, entity: slot, tick: c.tick) % UInt64(stations.count))
            }
            let target = stations[station]
            var want = SIMD2<Float>(0, 0)
            // Cross the floor only on a horizontal aisle (between machine rows), then go
            // along the station's column aisle.
            let aisleY = floor.minY + 12.5 + 9 * ((here.y - floor.minY - 12.5) / 9).rounded()
            if abs(target.x - here.x) > 0.1 {
                if abs(here.y - aisleY) > 0.1 { want.y = aisleY > here.y ? 1 : -1 } else { want.x = target.x > here.x ? 1 : -1 }
            } else if abs(target.y - here.y) > 0.1 { want.y = target.y > here.y ? 1 : -1 }
            else {
                // Arrived: pick the next station.
                station = Int(SplitMix.value(seed: c.seed, entity: slot, tick: c.tick, salt: 5) % UInt64(stations.count))
            }
            // Stop for anything just ahead (other AGVs, workers).
            var clear = true
            let r0 = grid.row(here.y - 2.5), r1 = grid.row(here.y + 2.5), c0 = grid.column(here.x - 2.5), c1 = grid.column(here.x + 2.5)
            scan: for row in r0...r1 {
                for k in Int(c.cellStart[row * grid.columns + c0])..<Int(c.cellStart[row * grid.columns + c1 + 1]) {
                    let j = Int(c.gridEntries[k])
                    if j == i || c.kind[j] == FactoryScenario.machine.code { continue }
                    let rel = SIMD2(c.gridX[k], c.gridY[k]) - here
                    let ahead = (rel * want).sum()
                    if ahead > 0 && ahead < 2 && abs(rel.x * want.y - rel.y * want.x) < 1 {
                        // Right of way by slot, so two AGVs never wait for each other forever.
                        if c.kind[j] != FactoryScenario.agv.code || Int(c.slot[j]) < slot { clear = false; break scan }
                    }
                }
            }
            // Never overshoot the line being driven to.
            var speed = c.speed[i]
            if want.y != 0 && abs(target.x - here.x) > 0.1 { speed = min(speed, abs(aisleY - here.y) / c.dt) }
            else if want.x != 0 { speed = min(speed, abs(target.x - here.x) / c.dt) }
            else if want.y != 0 { speed = min(speed, abs(target.y - here.y) / c.dt) }
            let v = clear ? want * speed : .zero
            o.vx[i] = v.x; o.vy[i] = v.y
            o.columns[columns.station, i] = Int32(station)
        }
    }
}
