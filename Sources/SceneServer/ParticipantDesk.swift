import CoreMetrics
import NIOCore
import Scenarios
import SceneCore
import SceneWire

/// What a session asks when its client sends Join, with how the outcome goes back to it.
struct JoinRequest: Sendable {
    var request: UInt32
    var name: String
    var start: WireStart
    var joinToken: String
    var resumeToken: String
    /// Wrong join and resume tokens are counted against the client's address here.
    var tokens: AuthThrottle
    /// Tells the session (on its event loop) which participant it now controls; nil when
    /// the Join was refused (its Refused is already sent). Called once.
    var settle: @Sendable (UInt32?) -> Void
}

/// One participant as the server knows it: its entity, its resume token, the connection that
/// controls it (none while away), and what it has still to be told.
final class Seat {
    let participant: UInt32
    let handle: EntityHandle
    let token: String
    var outlet: (any ParticipantLink)?
    /// Tells the controlling session its participant is gone (a reset).
    var release: (@Sendable (UInt32?) -> Void)?
    /// While away: the tick at which it leaves.
    var leavesAtTick: UInt64?
    /// The last input applied since the last InputAck.
    var ackSequence: UInt32?
    var refusals = RefusalGate()

    init(participant: UInt32, handle: EntityHandle, token: String) {
        self.participant = participant; self.handle = handle; self.token = token
    }
}

/// The scene's participants on the network side: seats by participant, token and
/// connection; joins, inputs, drops and returns; acknowledgements after each frame. Owned by
/// the tick thread (part of `RunnerState`), so it needs no lock. What participants change in
/// the world goes through `LoadedScene` (and its input log).
final class ParticipantDesk {
    let policy: JoinPolicy
    let tickRate: Int
    let metrics: ServerMetrics
    let participantsGauge: CoreMetrics.Gauge
    private(set) var seats: [UInt32: Seat] = [:]
    private var byToken: [String: UInt32] = [:]
    private var byOutlet: [ObjectIdentifier: UInt32] = [:]
    /// Seats with an input applied since the last frame.
    private var acksDue: [UInt32] = []
    /// Seats whose connection dropped, waiting out their grace period.
    private var away = Set<UInt32>()

    init(policy: JoinPolicy, tickRate: Int, metrics: ServerMetrics, scene: String) {
        self.policy = policy; self.tickRate = tickRate; self.metrics = metrics
        participantsGauge = CoreMetrics.Gauge(label: "twinscene_participants", dimensions: [("scene", scene)], factory: metrics.factory)
    }

    func send(_ m: WireMessage, to outlet: any ParticipantLink) { outlet.deliver(m) }

    /// Refuses a Join: counted, answered, and the session told.
    private func refuse(_ r: JoinRequest, _ code: ErrorCode, _ message: String, outlet: any ParticipantLink) {
        metrics.refusal(code).increment()
        // The session hears first (both go through its event loop, in order): a client that
        // answers the Refused at once with another Join finds the first one settled.
        r.settle(nil)
        send(.refused(request: r.request, code: code.rawValue, count: 1, message: message), to: outlet)
    }

    func join(_ r: JoinRequest, outlet: any ParticipantLink, scene: LoadedScene) {
        guard scene.joinable else { return refuse(r, .notJoinable, "scene \(scene.name) takes no participants", outlet: outlet) }
        if byOutlet[ObjectIdentifier(outlet)] != nil {
            return refuse(r, .alreadyJoined, "this connection already controls a participant", outlet: outlet)
        }
        if !r.resumeToken.isEmpty {
            guard let id = byToken[r.resumeToken], let seat = seats[id] else {
                r.tokens.recordFailure(outlet.address)
                return refuse(r, .badResumeToken, "no participant of scene \(scene.name) holds this resume token (it may have left after its grace period)", outlet: outlet)
            }
            guard seat.outlet == nil else {
                return refuse(r, .resumeTokenInUse, "participant \(id) is still connected; a resume token takes back a participant whose connection dropped", outlet: outlet)
            }
            seat.outlet = outlet
            seat.release = r.settle
            seat.leavesAtTick = nil
            away.remove(id)
            seat.refusals = RefusalGate()
            byOutlet[ObjectIdentifier(outlet)] = id
            scene.setAway(false, seat.handle)
            r.tokens.recordSuccess(outlet.address)
            joined(r, seat, scene: scene, outlet: outlet)
            return
        }
        if case .token(let expected) = policy.access, !ConstantTime.equal(r.joinToken, expected) {
            r.tokens.recordFailure(outlet.address)
            return refuse(r, .badJoinToken, r.joinToken.isEmpty ? "scene \(scene.name) is joined with a join token" : "wrong join token", outlet: outlet)
        }
        if let problem = ParticipantName.problem(r.name) { return refuse(r, .badName, problem, outlet: outlet) }
        let start: ParticipantStart
        switch r.start {
        case .line: start = .line
        case .wave(let w): start = .wave(Int(w) - 1)
        }
        let handle: EntityHandle
        do { handle = try scene.join(name: r.name, start: start) } catch {
            let code: ErrorCode = if case .badValue = error { .unsupportedInput } else { ErrorCode(error) }
            return refuse(r, code, error.description, outlet: outlet)
        }
        let seat = Seat(participant: handle.index, handle: handle, token: Self.newToken())
        seat.outlet = outlet
        seat.release = r.settle
        seats[seat.participant] = seat
        byToken[seat.token] = seat.participant
        byOutlet[ObjectIdentifier(outlet)] = seat.participant
        participantsGauge.record(seats.count)
        joined(r, seat, scene: scene, outlet: outlet)
    }

    private func joined(_ r: JoinRequest, _ seat: Seat, scene: LoadedScene, outlet: any ParticipantLink) {
        let limits = scene.scenario.participantHost?.limits ?? .runner
        let at = scene.world.store.position(of: seat.handle) ?? .zero
        // The session learns its participant before the client can: an Input sent the moment
        // Joined arrives must not meet a session that still thinks the Join is in flight
        // (Refused 24; seen in CI with the tick thread preempted between the two).
        r.settle(seat.participant)
        send(.joined(request: r.request, participant: seat.participant, tick: scene.world.tick, x: at.x, y: at.y, maxSpeed: limits.maxSpeed,
                     maxAcceleration: limits.maxAcceleration, resumeToken: seat.token), to: outlet)
    }

    /// A refusal of an input, through the seat's gate.
    private func refuse(_ seat: Seat, _ code: ErrorCode, sequence: UInt32, _ message: String) {
        metrics.refusal(code).increment()
        guard let outlet = seat.outlet, let m = seat.refusals.refuse(code, request: sequence, message: message) else { return }
        send(m, to: outlet)
    }

    func input(_ input: WireInput, participant: UInt32, sequence: UInt32, from outlet: any ParticipantLink, scene: LoadedScene) {
        guard let seat = seats[participant], seat.outlet === outlet else {
            // The session checked ownership; this is a race with a drop, a resume elsewhere or a reset.
            metrics.refusal(.notYourEntity).increment()
            return
        }
        let wanted: ParticipantInput
        switch input {
        case .heading(let r, let v): wanted = .heading(radians: r, speed: v)
        case .treadmill(let v): wanted = .treadmill(speed: v)
        case .fix(let x, let y, let t): wanted = .fix(x: x, y: y, timeMicros: t)
        }
        do {
            try scene.input(wanted, to: seat.handle)
            metrics.inputsApplied.increment()
            if seat.ackSequence == nil { acksDue.append(participant) }
            seat.ackSequence = sequence
        } catch {
            refuse(seat, ErrorCode(error), sequence: sequence, error.description)
        }
    }

    func leave(participant: UInt32, from outlet: any ParticipantLink, scene: LoadedScene) {
        guard let seat = seats[participant], seat.outlet === outlet else { return }
        remove(seat, scene: scene)
    }

    private func remove(_ seat: Seat, scene: LoadedScene) {
        scene.leave(seat.handle)
        seats[seat.participant] = nil
        away.remove(seat.participant)
        byToken[seat.token] = nil
        if let o = seat.outlet { byOutlet[ObjectIdentifier(o)] = nil }
        participantsGauge.record(seats.count)
    }

    /// The connection dropped: its participant stands still, marked away, for the grace period.
    func drop(_ outlet: any ParticipantLink, scene: LoadedScene) {
        guard let id = byOutlet.removeValue(forKey: ObjectIdentifier(outlet)), let seat = seats[id] else { return }
        seat.outlet = nil
        seat.release = nil
        seat.ackSequence = nil
        seat.leavesAtTick = scene.world.tick + UInt64((policy.graceSeconds * Double(tickRate)).rounded())
        away.insert(id)
        scene.setAway(true, seat.handle)
    }

    /// At a tick boundary: participants away past their grace period leave.
    func expire(scene: LoadedScene) {
        let now = scene.world.tick
        guard !away.isEmpty else { return }
        // By participant id, so the order (and the input log) does not depend on a hash.
        for id in away.sorted() {
            guard let seat = seats[id], let at = seat.leavesAtTick, at <= now else { continue }
            remove(seat, scene: scene)
        }
    }

    /// After a frame: each participant whose input was applied since the last one hears the
    /// last sequence number taken, the tick of the frame that shows it, and where it is.
    func sendAcks(tick: UInt64, world: World) {
        for id in acksDue {
            guard let seat = seats[id], let seq = seat.ackSequence else { continue }
            seat.ackSequence = nil
            let at = world.store.position(of: seat.handle) ?? .zero
            if let outlet = seat.outlet { send(.inputAck(participant: id, sequence: seq, tick: tick, x: at.x, y: at.y), to: outlet) }
        }
        acksDue.removeAll(keepingCapacity: true)
    }

    /// The scene was rebuilt (a reset): every participant is gone, and told so.
    func sceneReplaced() {
        for seat in seats.values {
            if let outlet = seat.outlet {
                send(.refused(request: 0, code: ErrorCode.notJoined.rawValue, count: 1,
                              message: "the scene was reset; participant \(seat.participant) is gone, join again"), to: outlet)
            }
            seat.release?(nil)
        }
        seats.removeAll(); byToken.removeAll(); byOutlet.removeAll(); acksDue.removeAll(); away.removeAll()
        participantsGauge.record(0)
    }

    /// 128 random bits as 32 hex digits.
    static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let s = String(g.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }.joined()
    }
}
