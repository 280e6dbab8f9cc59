import CityTiles
import CoreMetrics
import Foundation
import NIOConcurrencyHelpers
import Synchronization

/// The server's shared bookkeeping: scenes, live sessions, counters.
final class ServerRegistry: Sendable {
    let runners: [SceneRunner]
    let catalog: Catalog?
    private let sessions = NIOLockedValueBox<[Int: SessionOutlet]>([:])
    private let ids = Atomic<Int>(0)
    let metrics: ServerMetrics

    init(runners: [SceneRunner], catalog: Catalog?, metrics: ServerMetrics) {
        self.runners = runners
        self.catalog = catalog
        self.metrics = metrics
    }

    func nextSessionId() -> Int { ids.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Registers a session unless the connection limit is reached.
    func add(_ outlet: SessionOutlet, limit: Int) -> Bool {
        sessions.withLockedValue { s in
            guard s.count < limit else { return false }
            s[outlet.id] = outlet
            metrics.clients.record(s.count)
            return true
        }
    }

    func remove(_ outlet: SessionOutlet) {
        sessions.withLockedValue { s in
            s.removeValue(forKey: outlet.id)
            metrics.clients.record(s.count)
        }
    }

    var outlets: [SessionOutlet] { sessions.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id } }
    var clientCount: Int { sessions.withLockedValue { $0.count } }
}

/// Wall-clock microseconds, the time base of Welcome, Pong and state frames.
enum ServerClock {
    static func micros() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000_000) }
}
