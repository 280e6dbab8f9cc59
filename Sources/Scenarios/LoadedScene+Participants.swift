import Foundation
import SceneCore

/// The participants of a scene as the scene knows them: entities driven by inputs. Who they
/// are on the network (connections, tokens, rates) is the server's; here are only the
/// changes to the world, each recorded in order into the scene's input log.
public struct ParticipantRoster {
    /// Participants joined so far (numbers are never reused).
    public internal(set) var joined = 0
    /// Participants in the scene now, away ones included.
    public internal(set) var present = 0
    /// Every change to the world made for participants, in the order applied, with its tick;
    /// nil when not recorded. A server writing a log takes its text every tick.
    public var log: InputLog?
    public init() {}
}

extension LoadedScene {
    /// Whether people can join this scene: its manifest opens it and its scenario takes them.
    public var joinable: Bool { manifest.participants.joinable && scenario.participantHost != nil }

    /// A new participant's entity, spawned between ticks. Takes the policy's maximum into
    /// account; names are checked by the caller (`ParticipantName.check`).
    public func join(name: String, start: ParticipantStart) throws(ParticipationRefusal) -> EntityHandle {
        guard let host = scenario.participantHost, manifest.participants.joinable else {
            throw .unsupported("scene \(manifest.name) takes no participants")
        }
        guard roster.present < manifest.participants.maxParticipants else {
            throw .full("the scene holds its maximum of \(manifest.participants.maxParticipants) participants")
        }
        let number = roster.joined + 1
        let h = try host.spawnParticipant(world, start: start, name: name, number: number)
        roster.joined = number
        roster.present += 1
        roster.log?.append(tick: world.tick, .join(number: number, start: start, name: name))
        return h
    }

    /// An input for a participant's entity, applied at once (between ticks): values are
    /// checked against the kind's human limits first.
    public func input(_ input: ParticipantInput, to h: EntityHandle) throws(ParticipationRefusal) {
        guard let host = scenario.participantHost, world.store.isValid(h) else { throw .badValue("no such participant") }
        let limit = host.limits.maxSpeed
        func speed(_ v: Float) throws(ParticipationRefusal) {
            guard v.isFinite, v >= 0 else { throw .badValue("speed \(v) is not a finite number of m/s at least 0") }
            guard v <= limit else { throw .overLimit("speed \(v) m/s is over the \(host.participantKind.name)'s limit of \(limit) m/s") }
        }
        switch input {
        case .treadmill(let v):
            guard host.offersTreadmill else { throw .unsupported("this scene has no course: treadmill mode is the marathon's") }
            try speed(v)
        case .heading(let radians, let v):
            guard radians.isFinite, abs(radians) <= 2 * .pi + 1e-3 else { throw .badValue("heading \(radians) is not within ±2π radians") }
            try speed(v)
        case .fix(let x, let y, _):
            guard x.isFinite, y.isFinite else { throw .badValue("fix (\(x), \(y)) is not finite") }
        }
        try host.apply(input, to: h, in: world)
        roster.log?.append(tick: world.tick, .input(slot: h.index, input))
    }

    /// Marks a participant away (its connection dropped) or back.
    public func setAway(_ away: Bool, _ h: EntityHandle) {
        guard let host = scenario.participantHost, world.store.isValid(h) else { return }
        host.setAway(away, handle: h, in: world)
        roster.log?.append(tick: world.tick, .away(slot: h.index, away))
    }

    /// A participant leaves: its entity goes.
    public func leave(_ h: EntityHandle) {
        guard let host = scenario.participantHost, world.store.isValid(h) else { return }
        host.remove(h, from: world)
        roster.present -= 1
        roster.log?.append(tick: world.tick, .leave(slot: h.index))
    }
}

/// Display names: valid UTF-8 (Swift strings decoded from the wire already are), 1 to
/// `JoinPolicy.maxNameBytes` bytes, no control characters, not only spaces.
public enum ParticipantName {
    /// nil when the name is acceptable, else why not.
    public static func problem(_ name: String) -> String? {
        let bytes = name.utf8.count
        guard bytes <= JoinPolicy.maxNameBytes else { return "a name of \(bytes) bytes; at most \(JoinPolicy.maxNameBytes) bytes of UTF-8" }
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { return "an empty name" }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
                                                 || $0.properties.generalCategory == .lineSeparator || $0.properties.generalCategory == .paragraphSeparator }) {
            return "a name with control characters"
        }
        return nil
    }
}
