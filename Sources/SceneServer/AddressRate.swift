import Dispatch
import Synchronization

/// A request rate per client address, across its connections (Joins): a token bucket per
/// address, at most `maxAddresses` remembered (the longest idle forgotten first), so a flood
/// of addresses cannot grow the table without bound.
final class AddressRate: Sendable {
    let rate: Double
    let burst: Double
    let maxAddresses: Int
    private let buckets = Mutex<[String: (tokens: Double, last: UInt64)]>([:])

    init(rate: Double, burst: Double, maxAddresses: Int = 10_000) {
        self.rate = rate; self.burst = burst; self.maxAddresses = maxAddresses
    }

    /// Takes a token for `address`; false when it is over its rate.
    func take(_ address: String, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Bool {
        buckets.withLock { all in
            var b = all[address] ?? (burst, now)
            b.tokens = min(burst, b.tokens + Double(now &- b.last) / 1e9 * rate)
            b.last = now
            let ok = b.tokens >= 1
            if ok { b.tokens -= 1 }
            if all[address] == nil && all.count >= maxAddresses, let idle = all.min(by: { $0.value.last < $1.value.last })?.key {
                all[idle] = nil
            }
            all[address] = b
            return ok
        }
    }
}
