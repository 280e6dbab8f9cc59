#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many client connections this process can hold open: the soft limit on open files is
/// raised to the hard limit at start, and descriptors are kept back for everything else (the
/// catalog's database and WAL files, the log, the listeners, Dispatch's workers, connections
/// being refused), so that a flood of connections meets Error 8, never a process without a
/// descriptor left.
public struct DescriptorBudget: Sendable, Equatable {
    /// Descriptors kept back for the process itself.
    public static let reserve = 64
    /// The soft limit after raising it (or as it was, when it could not be raised).
    public var softLimit: Int
    /// Client connections allowed: the configured maximum, or fewer where the limit says so.
    public var maxConnections: Int
    /// HTTP connections allowed on the metrics endpoint.
    public var maxMetricsConnections: Int

    /// Raises the soft limit to the hard one (at most `ceiling`) and sizes the connection caps.
    public static func raise(configuredConnections: Int, configuredMetrics: Int, ceiling: Int = 1 << 20) -> DescriptorBudget {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return DescriptorBudget(softLimit: 0, maxConnections: configuredConnections, maxMetricsConnections: configuredMetrics)
        }
        let hard = min(limit.rlim_max, rlim_t(ceiling))   // RLIM_INFINITY is the largest value
        if limit.rlim_cur < hard {
            var raised = limit
            raised.rlim_cur = hard
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return sized(softLimit: Int(limit.rlim_cur), configuredConnections: configuredConnections, configuredMetrics: configuredMetrics)
    }

    /// The caps for a given soft limit (pure, for tests).
    public static func sized(softLimit: Int, configuredConnections: Int, configuredMetrics: Int) -> DescriptorBudget {
        let usable = max(0, softLimit - reserve)
        let metrics = min(configuredMetrics, max(1, usable / 16))
        let clients = min(configuredConnections, max(1, usable - metrics))
        return DescriptorBudget(softLimit: softLimit, maxConnections: clients, maxMetricsConnections: metrics)
    }
}
