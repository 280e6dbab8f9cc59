import NIOCore
import SceneWire

/// A token bucket: `rate` requests a second on average, `burst` at once. Used by one
/// connection on its event loop, timed by the loop's clock (`EventLoop.now`).
struct TokenBucket {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: NIODeadline?

    init(rate: Double, burst: Double) {
        self.rate = rate; self.burst = burst; self.tokens = burst
    }

    /// Takes one token; false when none is left (the request is over the rate).
    mutating func take(now: NIODeadline) -> Bool {
        if let last {
            tokens = min(burst, tokens + Double((now - last).nanoseconds) / 1e9 * rate)
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// The per-connection request rates a client may not exceed (docs/PROTOCOL.md, "Limits").
public struct RequestLimits: Sendable, Equatable {
    /// Ping, per second (and the burst allowed at once).
    public var pingsPerSecond: Double = 10, pingBurst: Double = 20
    /// ListScenes.
    public var listsPerSecond: Double = 2, listBurst: Double = 5
    /// Subscribe and Unsubscribe together.
    public var subscriptionsPerSecond: Double = 10, subscriptionBurst: Double = 20
    /// MoveArea.
    public var movesPerSecond: Double = 120, moveBurst: Double = 240
    /// Control.
    public var controlsPerSecond: Double = 5, controlBurst: Double = 10
    public init() {}
}

/// One connection's buckets, one per kind of request.
struct RequestBuckets {
    var ping, list, subscription, move, control: TokenBucket

    init(_ l: RequestLimits) {
        ping = TokenBucket(rate: l.pingsPerSecond, burst: l.pingBurst)
        list = TokenBucket(rate: l.listsPerSecond, burst: l.listBurst)
        subscription = TokenBucket(rate: l.subscriptionsPerSecond, burst: l.subscriptionBurst)
        move = TokenBucket(rate: l.movesPerSecond, burst: l.moveBurst)
        control = TokenBucket(rate: l.controlsPerSecond, burst: l.controlBurst)
    }

    /// Takes a token for the message's kind; nil when allowed, else what was exceeded.
    mutating func admit(_ message: WireMessage, now: NIODeadline, limits l: RequestLimits) -> String? {
        switch message {
        case .ping: return ping.take(now: now) ? nil : "more than \(Int(l.pingsPerSecond)) Ping per second"
        case .listScenes: return list.take(now: now) ? nil : "more than \(Int(l.listsPerSecond)) ListScenes per second"
        case .subscribe, .unsubscribe:
            return subscription.take(now: now) ? nil : "more than \(Int(l.subscriptionsPerSecond)) Subscribe or Unsubscribe per second"
        case .moveArea, .moveAreaRequest: return move.take(now: now) ? nil : "more than \(Int(l.movesPerSecond)) MoveArea per second"
        case .control: return control.take(now: now) ? nil : "more than \(Int(l.controlsPerSecond)) Control per second"
        default: return nil
        }
    }
}
