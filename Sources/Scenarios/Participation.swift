import SceneCore

/// Who may join a scene as a participant (a manifest's `$.participants`; docs/SCENES.md).
public struct JoinPolicy: Sendable, Equatable {
    public enum Access: Sendable, Equatable {
        /// Nobody joins (the default): the scene is only watched.
        case closed
        /// Anyone joins.
        case open
        /// Only a Join carrying this token (not the admin token).
        case token(String)
    }
    public var access: Access
    /// Most participants in the scene at once (those away within their grace period count).
    public var maxParticipants: Int
    /// Seconds a participant whose connection dropped stays in the scene, standing still and
    /// marked away, before it leaves.
    public var graceSeconds: Double

    public init(access: Access = .closed, maxParticipants: Int = 0, graceSeconds: Double = 30) {
        self.access = access; self.maxParticipants = maxParticipants; self.graceSeconds = graceSeconds
    }

    public static let closed = JoinPolicy()
    /// Longest display name, in bytes of UTF-8.
    public static let maxNameBytes = 32
    public var joinable: Bool { access != .closed && maxParticipants > 0 }
}

/// Where a new participant starts.
public enum ParticipantStart: Sendable, Equatable {
    /// Behind the start line with a start wave (0 first), starting when that wave starts (at
    /// once if it already has).
    case wave(Int)
    /// On the start line, starting at once.
    case line
}

/// What a participant wants, applied at the next tick boundary. Never a position write: the
/// scene moves the participant's entity towards it within the kind's human limits.
public enum ParticipantInput: Sendable, Equatable {
    /// Free mode: a heading (radians, counter-clockwise from the scene's +x, east) and a speed
    /// in m/s.
    case heading(radians: Float, speed: Float)
    /// Treadmill mode (the marathon): a speed along the course in m/s.
    case treadmill(speed: Float)
    /// A real runner's position fix in scene metres, stamped by the phone (microseconds of any
    /// clock, increasing).
    case fix(x: Float, y: Float, timeMicros: UInt64)
}

/// Human limits of a participant kind.
public struct HumanLimits: Sendable, Equatable {
    /// Fastest speed asked for or reached, m/s.
    public var maxSpeed: Float
    /// Fastest change of speed, m/s².
    public var maxAcceleration: Float
    /// Metres a position fix may stray beyond what `maxSpeed` allows since the last one
    /// (position noise); a fix farther away is a jump.
    public var fixTolerance: Float

    public init(maxSpeed: Float, maxAcceleration: Float, fixTolerance: Float = 25) {
        self.maxSpeed = maxSpeed; self.maxAcceleration = maxAcceleration; self.fixTolerance = fixTolerance
    }

    /// A marathon runner's.
    public static let runner = HumanLimits(maxSpeed: 12.5, maxAcceleration: 5)
}

/// Why a scene refused a participant's input or join. The server sends each with its code
/// (docs/PROTOCOL.md, "Participants").
public enum ParticipationRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// NaN, an infinity, a negative speed, a heading beyond ±2π, a fix outside the scene or
    /// with a timestamp not after the last one.
    case badValue(String)
    /// A speed above the kind's limit.
    case overLimit(String)
    /// A position fix implying a move faster than the limit allows.
    case jump(String)
    /// A mode this scene does not offer (treadmill outside the marathon).
    case unsupported(String)
    /// The scene holds its maximum of participants, or has no room for another entity.
    case full(String)

    public var description: String {
        switch self {
        case .badValue(let s), .overLimit(let s), .jump(let s), .unsupported(let s), .full(let s): return s
        }
    }
}

/// A scenario people can join: it spawns their entities, turns their inputs into what its
/// behaviour reads, and marks them away. Everything here runs on the scene's tick thread
/// between steps, so it may write the store directly.
public protocol ParticipantHost: AnyObject {
    /// The kind of a participant's entity.
    var participantKind: EntityKind { get }
    var limits: HumanLimits { get }
    /// Spawns a participant's entity; `number` is its participant number (1 first).
    func spawnParticipant(_ world: World, start: ParticipantStart, name: String, number: Int) throws(ParticipationRefusal) -> EntityHandle
    /// Its participants' intentions, names and fixes (made when the scenario populates).
    var intentions: ParticipantIntentions? { get }
    /// Whether it has a course to run in treadmill mode.
    var offersTreadmill: Bool { get }
}

extension ParticipantHost {
    /// Applies an input already checked for finite values and limits.
    func apply(_ input: ParticipantInput, to h: EntityHandle, in world: World) throws(ParticipationRefusal) {
        guard let intentions else { throw .badValue("not a participant") }
        try intentions.apply(input, to: h, in: world)
    }

    /// Away: the entity stands still until it is back.
    func setAway(_ away: Bool, handle h: EntityHandle, in world: World) { intentions?.setAway(away, handle: h, in: world) }

    /// The participant left: its entity is removed and forgotten.
    func remove(_ h: EntityHandle, from world: World) { intentions?.remove(h, from: world) }
}
