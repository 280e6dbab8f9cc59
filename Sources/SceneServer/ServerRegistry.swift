import CityTiles
import CoreMetrics
import Foundation
import Synchronization

/// The server's shared bookkeeping: its state, scenes, live sessions, counters.
final class ServerRegistry: Sendable {
    let runners: [SceneRunner]
    let catalog: Catalog?
    private let sessions = Mutex<[Int: SessionOutlet]>([:])
    private let life = Mutex(ServerState.starting)
    private let ids = Atomic<Int>(0)
    let metrics: ServerMetrics
    /// The frame limit Welcome announces.
    let maxServerFrameBytes: Int
    /// Wrong admin tokens per address.
    let auth = AuthThrottle()
    /// Wrong join and resume tokens per address (the same back-off as admin tokens).
    let joinTokens = AuthThrottle()
    /// Joins per address, across its connections.
    let joinRate: AddressRate
    /// Lines about closed clients, at most 20 a second.
    let closeLog = LogLimiter(perSecond: 20)
    /// Client connections allowed, set at start from the open-files limit.
    let maxConnections: Atomic<Int>

    init(runners: [SceneRunner], catalog: Catalog?, metrics: ServerMetrics, maxServerFrameBytes: Int,
         joinRate: AddressRate = AddressRate(rate: 20, burst: 200)) {
        self.joinRate = joinRate
        self.runners = runners
        self.catalog = catalog
        self.metrics = metrics
        self.maxServerFrameBytes = maxServerFrameBytes
        self.maxConnections = Atomic(4096)
    }

    var state: ServerState { life.withLock { $0 } }

    /// Moves from `from` to `to`; false (and no change) when the server is not in `from`.
    func transition(from: ServerState, to: ServerState) -> Bool {
        life.withLock { s in
            guard s == from else { return false }
            s = to
            return true
        }
    }

    func nextSessionId() -> Int { ids.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Registers a session unless the connection limit is reached.
    func add(_ outlet: SessionOutlet, limit: Int) -> Bool {
        sessions.withLock { s in
            guard s.count < limit else { return false }
            s[outlet.id] = outlet
            metrics.clients.record(s.count)
            return true
        }
    }

    func remove(_ outlet: SessionOutlet) {
        sessions.withLock { s in
            s.removeValue(forKey: outlet.id)
            metrics.clients.record(s.count)
        }
    }

    var outlets: [SessionOutlet] { sessions.withLock { Array($0.values) }.sorted { $0.id < $1.id } }
    var clientCount: Int { sessions.withLock { $0.count } }
}

/// Wall-clock microseconds, the time base of Welcome, Pong and state frames.
enum ServerClock {
    static func micros() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000_000) }
}
