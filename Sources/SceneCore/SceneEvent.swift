/// Something that happened during a step, buffered and read after it.
public struct SceneEvent: Hashable, Sendable {
    /// Event kinds; scenarios use codes from 100 up.
    public struct Kind: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// A behaviour produced a NaN or infinite velocity; it was zeroed.
        public static let nonFiniteVelocity = Kind(rawValue: 1)
        /// An entity tried to leave the world bounds and was clamped.
        public static let clampedToBounds = Kind(rawValue: 2)
        /// An entity reached its goal.
        public static let goalReached = Kind(rawValue: 3)
    }

    public var tick: UInt64
    public var entity: UInt32
    public var kind: Kind
    public var value: Float

    public init(tick: UInt64, entity: UInt32, kind: Kind, value: Float = 0) {
        self.tick = tick; self.entity = entity; self.kind = kind; self.value = value
    }
}

/// Events of one block; merged in block order after the stage.
public struct EventBuffer: Sendable {
    public var events: [SceneEvent] = []
    public init() {}
    public mutating func append(_ e: SceneEvent) { events.append(e) }
}
