import Foundation
import SceneCore

/// What every scenario that takes participants keeps for them: the intention columns, the
/// display names, the last accepted position fixes; and the parts of taking an input and of
/// steering towards it that do not depend on the scenario. Lives with its scenario on the
/// tick thread.
public final class ParticipantIntentions {
    public let columns: ParticipantColumns
    public let limits: HumanLimits
    /// The index of the kind's `away` attribute.
    let awayAttribute: Int
    /// Display names and last accepted fixes, by slot.
    var names: [UInt32: String] = [:]
    var lastFix: [UInt32: (at: SIMD2<Float>, micros: UInt64)] = [:]

    /// Adds the intention columns to the world's store.
    init(world: World, limits: HumanLimits, awayAttribute: Int) {
        columns = ParticipantColumns(
            mode: world.store.addColumn("participant.mode", initial: ParticipantMode.simulated.rawValue),
            a: world.store.addColumn("participant.a", initial: Float(0)),
            b: world.store.addColumn("participant.b", initial: Float(0)),
            gait: world.store.addColumn("participant.gait", initial: Float(0)),
            startTick: world.store.addColumn("participant.startTick", initial: Int32(0)))
        self.limits = limits
        self.awayAttribute = awayAttribute
    }

    /// A freshly spawned participant: standing, starting at `startTick`.
    func seat(_ h: EntityHandle, name: String, startTick: Int32, in world: World) {
        try? world.store.set(columns.mode, of: h, to: ParticipantMode.standing.rawValue)
        try? world.store.set(columns.startTick, of: h, to: startTick)
        names[h.index] = name
    }

    /// Writes an input (values already checked against the limits) into the columns; a fix
    /// is checked for jumps here, where the last one is known.
    func apply(_ input: ParticipantInput, to h: EntityHandle, in world: World) throws(ParticipationRefusal) {
        guard let mode = world.store.value(columns.mode, of: h), mode != ParticipantMode.simulated.rawValue else { throw .badValue("not a participant") }
        let away = mode & ParticipantMode.awayFlag
        let set: (ParticipantMode, Float, Float)
        switch input {
        case .treadmill(let speed): set = (.treadmill, speed, 0)
        case .heading(let radians, let speed): set = (.free, radians, speed)
        case .fix(let x, let y, let t):
            let b = world.bounds
            guard x >= b.minX && x < b.maxX && y >= b.minY && y < b.maxY else {
                throw .badValue("fix (\(x), \(y)) lies outside the scene (0, 0)-(\(b.maxX), \(b.maxY))")
            }
            let here = SIMD2(x, y)
            if let last = lastFix[h.index] {
                guard t > last.micros else { throw .badValue("fix timestamp \(t) is not after the last one (\(last.micros))") }
                let seconds = Float(Double(t - last.micros) / 1e6)
                let d = ((here - last.at) * (here - last.at)).sum().squareRoot()
                guard d <= limits.maxSpeed * seconds + limits.fixTolerance else {
                    throw .jump("a fix \(Int(d)) m from the last one \(seconds) s earlier implies more than \(limits.maxSpeed) m/s")
                }
            } else if let now = world.store.position(of: h) {
                let d = ((here - now) * (here - now)).sum().squareRoot()
                guard d <= limits.fixTolerance else {
                    throw .jump("a first fix \(Int(d)) m from the participant; it must be within \(Int(limits.fixTolerance)) m")
                }
            }
            lastFix[h.index] = (here, t)
            set = (.fix, x, y)
        }
        try? world.store.set(columns.mode, of: h, to: set.0.rawValue | away)
        try? world.store.set(columns.a, of: h, to: set.1)
        try? world.store.set(columns.b, of: h, to: set.2)
    }

    func setAway(_ away: Bool, handle h: EntityHandle, in world: World) {
        guard let mode = world.store.value(columns.mode, of: h) else { return }
        let next = away ? mode | ParticipantMode.awayFlag : mode & ~ParticipantMode.awayFlag
        try? world.store.set(columns.mode, of: h, to: next)
        if away { try? world.store.set(columns.gait, of: h, to: 0) }
        world.attributes.set(slot: h.index, attribute: awayAttribute, int: away ? 1 : 0)
    }

    func remove(_ h: EntityHandle, from world: World) {
        names[h.index] = nil
        lastFix[h.index] = nil
        try? world.despawn(h)
    }

    /// Steering shared by the behaviours, a value the parallel step can carry.
    var steering: IntentionSteering { IntentionSteering(columns: columns, limits: limits) }
}

/// Free and fix modes, and the acceleration limit, for a behaviour's participants.
public struct IntentionSteering: Sendable {
    let columns: ParticipantColumns
    let limits: HumanLimits

    /// The speed after one tick of changing from `gait` towards `wanted`, within the limits.
    func approach(_ gait: Float, _ wanted: Float, dt: Float) -> Float {
        let step = limits.maxAcceleration * dt
        return min(limits.maxSpeed, max(0, gait + min(step, max(-step, wanted - gait))))
    }

    /// The velocity of a participant in free or fix mode (zero otherwise) and its new speed;
    /// never over the speed limit.
    func freeOrFix(_ i: Int, mode: ParticipantMode, context c: StepContext, output o: SteerOutput) -> (SIMD2<Float>, Float) {
        var gait = o.columns[columns.gait, i]
        var v = SIMD2<Float>(0, 0)
        switch mode {
        case .free:
            let heading = o.columns[columns.a, i]
            gait = approach(gait, o.columns[columns.b, i], dt: c.dt)
            v = SIMD2(cos(heading), sin(heading)) * gait
        case .fix:
            let to = SIMD2(o.columns[columns.a, i], o.columns[columns.b, i]) - SIMD2(c.x[i], c.y[i])
            let d = (to * to).sum().squareRoot()
            // As fast as the limits allow while still able to stop at the fix.
            gait = approach(gait, min(limits.maxSpeed, (2 * limits.maxAcceleration * d).squareRoot()), dt: c.dt)
            if d > 1e-3 { v = to / d * min(gait, d / c.dt) }
        default:
            gait = approach(gait, 0, dt: c.dt)
        }
        let len = (v * v).sum().squareRoot()
        if len > limits.maxSpeed { v *= limits.maxSpeed / len }
        return (v, gait)
    }
}
