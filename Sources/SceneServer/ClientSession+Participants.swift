import CoreMetrics
import NIOCore
import Scenarios
import SceneWire

/// The participant a session controls (at most one per connection): its scene, and its id
/// once Joined (nil while the Join is in flight).
struct SessionSeat {
    let runner: SceneRunner
    var participant: UInt32?
}

extension ClientSession {
    /// A refusal that leaves the connection open: counted, and answered at most once a second
    /// per code (`RefusalGate`).
    func refuse(_ code: ErrorCode, request: UInt32, _ message: String) {
        registry.metrics.refusal(code).increment()
        guard let m = refusals.refuse(code, request: request, message: message) else { return }
        send(m)
    }

    func join(request: UInt32, scene: String, name: String, start: WireStart, joinToken: String, resumeToken: String) {
        guard let outlet else { return }
        guard let runner = registry.runners.first(where: { $0.name == scene }) else {
            return refuse(.unknownScene, request: request, "no scene named '\(LogText.safe(scene))'")
        }
        if let wait = registry.joinTokens.wait(for: outlet.address) {
            return refuse(.joinThrottled, request: request, "too many wrong join or resume tokens from \(outlet.address); joins are refused for \(wait) s more")
        }
        guard registry.joinRate.take(outlet.address) else {
            return refuse(.joinThrottled, request: request, "more than \(Int(configuration.joinsPerSecondPerAddress)) Joins a second from \(outlet.address)")
        }
        guard seat == nil else { return refuse(.alreadyJoined, request: request, "this connection already controls a participant (or is joining)") }
        if resumeToken.isEmpty, let problem = ParticipantName.problem(name) { return refuse(.badName, request: request, problem) }
        seat = SessionSeat(runner: runner, participant: nil)
        let loop = outlet.channel.eventLoop
        let me = NIOLoopBound(self, eventLoop: loop)
        runner.enqueue(.join(outlet, JoinRequest(
            request: request, name: name, start: start, joinToken: joinToken, resumeToken: resumeToken, tokens: registry.joinTokens,
            settle: { id in loop.execute { me.value.settled(runner: runner, participant: id) } })))
    }

    /// The scene's answer to a Join (or, with nil, word that the participant is gone).
    func settled(runner: SceneRunner, participant: UInt32?) {
        guard let s = seat, s.runner === runner else { return }
        if let participant { seat = SessionSeat(runner: runner, participant: participant); lastSequence = nil } else { seat = nil }
    }

    func input(participant: UInt32, sequence: UInt32, input: WireInput) {
        guard let outlet else { return }
        guard let s = seat, let mine = s.participant else {
            return refuse(.notJoined, request: sequence, "Input before Joined: this connection controls no participant")
        }
        guard participant == mine else { return refuse(.notYourEntity, request: sequence, "participant \(participant) is not this connection's (\(mine))") }
        guard inputBucket.take(now: outlet.channel.eventLoop.now) else {
            return refuse(.inputRateExceeded, request: sequence, "more than \(Int(configuration.inputsPerSecond)) inputs a second; dropped")
        }
        if let last = lastSequence, sequence <= last {
            return refuse(.staleSequence, request: sequence, "sequence \(sequence) is not above the last one, \(last)")
        }
        lastSequence = sequence
        s.runner.enqueue(.input(outlet, participant: participant, sequence: sequence, input))
    }

    func leave(participant: UInt32) {
        guard let outlet else { return }
        guard let s = seat, let mine = s.participant else { return refuse(.notJoined, request: 0, "Leave without a participant") }
        guard participant == mine else { return refuse(.notYourEntity, request: 0, "participant \(participant) is not this connection's (\(mine))") }
        seat = nil
        s.runner.enqueue(.leave(outlet, participant: participant))
    }
}
