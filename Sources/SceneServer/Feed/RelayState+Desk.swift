import CoreMetrics
import Dispatch
import Logging
import NATSClient
import NIOCore
import Scenarios
import SceneWire

/// A gateway's session that joined or is joining the scene: its connection, how its
/// `ClientSession` learns the outcome, and the Join in flight.
final class RelaySeat {
    let outlet: SessionOutlet
    var settle: (@Sendable (UInt32?) -> Void)?
    /// The request id of the Join in flight and when it was sent (uptime ns).
    var pendingJoin: (request: UInt32, at: UInt64)?
    let tokens: AuthThrottle

    init(outlet: SessionOutlet, tokens: AuthThrottle) { self.outlet = outlet; self.tokens = tokens }
}

/// Participants through a gateway (docs/SCALEOUT.md): the session checks what it checks for
/// a scene of its own process (throttles, one participant, sequence numbers, the input
/// rate), then the relay sends the client's Join, Input and Leave frames as they came to the
/// scene's process on `scene.S.desk`, where its desk takes them as from a session of its own;
/// the answers (Joined, Refused, InputAck) come back on this relay's inbox and go to the
/// client unchanged. The relay says once a second that the gateway is alive while it has
/// such sessions; a session that closes is said dropped (its participant away for the grace
/// period, to be taken back with its resume token at any gateway or at the scene's server).
extension RelayState {
    /// A Join answered neither Joined nor Refused within this long (ns) is Refused here.
    static let joinTimeout: UInt64 = 10_000_000_000

    func forwardJoin(_ outlet: SessionOutlet, _ r: JoinRequest) {
        guard runner.joinPolicy.joinable else {
            // As the scene's process would answer (it said so in `twinscene.scenes`).
            runner.metrics.refusal(.notJoinable).increment()
            r.settle(nil)
            outlet.send(WireMessageBox(buffer: WireMessage.refused(request: r.request, code: ErrorCode.notJoinable.rawValue, count: 1,
                                                                   message: "scene \(scene.name) takes no participants").frame()))
            return
        }
        let seat = relaySeats[outlet.id] ?? RelaySeat(outlet: outlet, tokens: r.tokens)
        relaySeats[outlet.id] = seat
        seat.settle = r.settle
        seat.pendingJoin = (r.request, DispatchTime.now().uptimeNanoseconds)
        sendToDesk(.message, outlet, WireMessage.join(request: r.request, scene: scene.name, name: r.name, start: r.start,
                                                       joinToken: r.joinToken, resumeToken: r.resumeToken))
    }

    func forwardInput(_ outlet: SessionOutlet, participant: UInt32, sequence: UInt32, _ input: WireInput) {
        guard relaySeats[outlet.id] != nil else { return }
        sendToDesk(.message, outlet, .input(participant: participant, sequence: sequence, input: input))
    }

    func forwardLeave(_ outlet: SessionOutlet, participant: UInt32) {
        guard relaySeats[outlet.id] != nil else { return }
        sendToDesk(.message, outlet, .leave(participant: participant))
    }

    /// The session closed: the scene's process is told (its participant goes away).
    func forwardDrop(_ outlet: SessionOutlet) {
        guard relaySeats.removeValue(forKey: outlet.id) != nil else { return }
        sendToDesk(.dropped, outlet, nil)
    }

    private func sendToDesk(_ op: FeedDeskRequest.Op, _ outlet: SessionOutlet, _ message: WireMessage?) {
        let request = FeedDeskRequest(op: op, gateway: deskReplySubject, session: UInt64(outlet.id), address: outlet.address, frame: message?.frame())
        do {
            try connection.publish(deskSubject, payload: request.encoded())
        } catch {
            runner.logger.warning("a participant's message could not go to the scene's process", metadata: ["error": "\(error)"])
        }
    }

    /// An answer of the scene's desk to one of this gateway's sessions.
    func deskReply(_ m: NATSMessage) throws {
        let reply = try FeedDeskReply.decode(m.payload)
        guard let seat = relaySeats[Int(truncatingIfNeeded: reply.session)] else { return }
        let message = try FeedWire.message(reply.frame, maxFrameBytes: 4096)
        switch message {
        case .joined(let request, let participant, _, _, _, _, _, _):
            // The session learns its participant before its client can (as at the scene's server).
            if seat.pendingJoin?.request == request { seat.pendingJoin = nil }
            seat.tokens.recordSuccess(seat.outlet.address)
            seat.settle?(participant)
        case .refused(let request, let code, _, _):
            if let pending = seat.pendingJoin, pending.request == request,
               code != ErrorCode.notYourEntity.rawValue, code != ErrorCode.badInputValue.rawValue {
                seat.pendingJoin = nil
                if code == ErrorCode.badJoinToken.rawValue || code == ErrorCode.badResumeToken.rawValue { seat.tokens.recordFailure(seat.outlet.address) }
                seat.settle?(nil)
            } else if request == 0, code == ErrorCode.notJoined.rawValue {
                // The scene was reset: the participant is gone.
                seat.settle?(nil)
            }
        case .inputAck:
            break
        default:
            throw WireError.malformed("a desk reply that is not Joined, Refused or InputAck")
        }
        seat.outlet.send(WireMessageBox(buffer: reply.frame))
    }

    /// Once a second while sessions joined or are joining: the gateway is alive. A Join
    /// unanswered for 10 s (the scene's process away) is Refused.
    func deskHousekeeping() {
        guard !relaySeats.isEmpty else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        for seat in relaySeats.values {
            guard let pending = seat.pendingJoin, now > pending.at + Self.joinTimeout else { continue }
            seat.pendingJoin = nil
            seat.settle?(nil)
            runner.metrics.refusal(.notJoinable).increment()
            seat.outlet.send(WireMessageBox(buffer: WireMessage.refused(request: pending.request, code: ErrorCode.notJoinable.rawValue, count: 1,
                                                                        message: "the scene's process did not answer the Join within 10 s; try again").frame()))
        }
        guard now >= lastAliveAt + 1_000_000_000 else { return }
        lastAliveAt = now
        try? connection.publish(deskSubject, payload: FeedDeskRequest(op: .alive, gateway: deskReplySubject).encoded())
    }
}
