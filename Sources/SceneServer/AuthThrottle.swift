import Foundation
import Synchronization

/// Wrong admin tokens, counted per address: after `maxFailures` within `window` seconds, control
/// from that address is refused for a back-off that doubles with every further failure (up to
/// `maxBackoff`). A right token clears the address. At most `maxAddresses` are remembered (the
/// oldest is forgotten first), so an attacker cannot grow the table without bound.
final class AuthThrottle: Sendable {
    struct Entry {
        var failures: Int
        var windowStart: Double
        var blockedUntil: Double
        var backoff: Double
        var lastSeen: Double
    }

    let maxFailures: Int
    let window: Double
    let firstBackoff: Double
    let maxBackoff: Double
    let maxAddresses: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(maxFailures: Int = 5, window: Double = 60, firstBackoff: Double = 10, maxBackoff: Double = 600, maxAddresses: Int = 10_000) {
        self.maxFailures = maxFailures; self.window = window; self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff; self.maxAddresses = maxAddresses
    }

    /// Seconds this address must still wait, nil when it may try.
    func wait(for address: String, now: Double = Date().timeIntervalSince1970) -> Int? {
        entries.withLock { all in
            guard let e = all[address], e.blockedUntil > now else { return nil }
            return Int((e.blockedUntil - now).rounded(.up))
        }
    }

    func recordFailure(_ address: String, now: Double = Date().timeIntervalSince1970) {
        entries.withLock { all in
            var e = all[address] ?? Entry(failures: 0, windowStart: now, blockedUntil: 0, backoff: 0, lastSeen: now)
            if now - e.windowStart > window && e.blockedUntil <= now { e.failures = 0; e.windowStart = now }
            e.failures += 1
            e.lastSeen = now
            if e.failures >= maxFailures {
                e.backoff = e.backoff == 0 ? firstBackoff : min(maxBackoff, e.backoff * 2)
                e.blockedUntil = now + e.backoff
            }
            if all[address] == nil && all.count >= maxAddresses,
               let oldest = all.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key {
                all[oldest] = nil
            }
            all[address] = e
        }
    }

    func recordSuccess(_ address: String) {
        _ = entries.withLock { $0.removeValue(forKey: address) }
    }

    var addresses: Int { entries.withLock { $0.count } }
}

/// At most `perSecond` log lines a second for one kind of line; the rest are counted and the
/// next line that passes says how many were left out.
final class LogLimiter: Sendable {
    let perSecond: Int
    private let state = Mutex<(second: Int, lines: Int, suppressed: Int)>((0, 0, 0))

    init(perSecond: Int = 20) { self.perSecond = perSecond }

    /// nil: drop the line; else log it, with this many suppressed since the last one.
    func admit(now: Double = Date().timeIntervalSince1970) -> Int? {
        state.withLock { s in
            let second = Int(now)
            if second != s.second { s.second = second; s.lines = 0 }
            guard s.lines < perSecond else { s.suppressed += 1; return nil }
            s.lines += 1
            defer { s.suppressed = 0 }
            return s.suppressed
        }
    }
}
