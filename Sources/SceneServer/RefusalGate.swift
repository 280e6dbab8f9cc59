import Dispatch
import Scenarios
import SceneWire

/// Refusals to one client, at most one Refused a second per code: the others are counted and
/// the next Refused of that code carries the count. A client flooding bad inputs gets a few
/// bytes a second back, never one message per input. Used by one owner (a session on its
/// event loop, or a seat on the tick thread).
struct RefusalGate {
    private var lastSent: [UInt16: UInt64] = [:]
    private var held: [UInt16: UInt32] = [:]

    /// The Refused to send now for a refusal of `code`, or nil when it is held back.
    mutating func refuse(_ code: ErrorCode, request: UInt32, message: String,
                         now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> WireMessage? {
        let c = code.rawValue
        let count = (held[c] ?? 0) &+ 1
        if let last = lastSent[c], now &- last < 1_000_000_000 {
            held[c] = count
            return nil
        }
        lastSent[c] = now
        held[c] = 0
        return .refused(request: request, code: c, count: count, message: message)
    }
}

extension ErrorCode {
    /// The code of a scene's refusal.
    init(_ refusal: ParticipationRefusal) {
        switch refusal {
        case .badValue: self = .badInputValue
        case .overLimit: self = .overHumanLimit
        case .jump: self = .positionJump
        case .unsupported: self = .unsupportedInput
        case .full: self = .sceneFull
        }
    }
}
