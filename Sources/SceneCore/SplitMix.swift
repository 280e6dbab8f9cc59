/// Stateless, seedable randomness: a value is a pure function of (seed, stream, counter).
///
/// Behaviours draw from `SplitMix.value(seed:entity:tick:)` so that the result for an
/// entity never depends on which worker ran it or in what order.
public enum SplitMix {
    @inlinable
    public static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A 64-bit value for one entity at one tick.
    @inlinable
    public static func value(seed: UInt64, entity: Int, tick: UInt64, salt: UInt64 = 0) -> UInt64 {
        mix(mix(mix(seed ^ salt) ^ UInt64(truncatingIfNeeded: entity)) ^ tick)
    }

    /// A float in [0, 1) for one entity at one tick.
    @inlinable
    public static func unit(seed: UInt64, entity: Int, tick: UInt64, salt: UInt64 = 0) -> Float {
        Float(value(seed: seed, entity: entity, tick: tick, salt: salt) >> 40) * (1.0 / 16_777_216.0)
    }
}

/// A sequential generator for set-up code (spawning a crowd), seeded and reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix.mix(state)
    }
}
