import CoreMetrics
import Metrics
import Prometheus
import SceneWire
import Synchronization

/// The server's metrics through swift-metrics, kept in its own Prometheus registry (so
/// several servers in one process, as in tests, do not share counters) and exposed in
/// the Prometheus text format by `MetricsEndpoint`.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let clients: CoreMetrics.Gauge
    let bytesSent: CoreMetrics.Counter
    let framesSkipped: CoreMetrics.Counter
    let controlActions: CoreMetrics.Counter
    /// Scenario events beyond the per-tick cap (`LoadedScene.maxEventsPerTick`), not sent.
    let eventsDropped: CoreMetrics.Counter
    /// Frames over the announced limit, never sent (a server fault; the client is closed).
    let framesOversized: CoreMetrics.Counter
    /// Client frames cut short by the end of their connection.
    let framesTruncated: CoreMetrics.Counter
    /// Clients closed for a request over its rate (Error 16).
    let requestsLimited: CoreMetrics.Counter
    /// Control refused for a wrong token or an address backing off (Error 11).
    let authFailures: CoreMetrics.Counter
    /// Clients closed for not draining their queue (Error 17).
    let slowClientsClosed: CoreMetrics.Counter
    /// Participants' inputs applied to their entities.
    let inputsApplied: CoreMetrics.Counter
    /// The scene feed on NATS (docs/SCALEOUT.md): messages and bytes published by a scene's
    /// process; messages NATS refused (too large, or the connection away with its buffer full).
    let feedMessagesOut: CoreMetrics.Counter
    let feedBytesOut: CoreMetrics.Counter
    let feedRefused: CoreMetrics.Counter
    /// Key requests a scene's process answered (gateways' subscribers share one where they can).
    let feedKeyRequests: CoreMetrics.Counter
    /// A gateway's side: feed messages taken in, and resyncs of its subscribers because the
    /// feed broke (a gap in ticks, NATS away, a slow consumer's drops, a bad message).
    let feedMessagesIn: CoreMetrics.Counter
    let feedResyncs: CoreMetrics.Counter
    /// Region shards: entities handed over to neighbours, border bytes sent, border waits
    /// that ran out (a neighbour missing), per-neighbour missing flags.
    let regionHandovers: CoreMetrics.Counter
    let regionBorderBytes: CoreMetrics.Counter
    let regionWaitsTimedOut: CoreMetrics.Counter
    /// Handovers that came in a border of an earlier tick (after an outage), taken in late.
    let regionLateHandovers: CoreMetrics.Counter
    /// Handovers sent again (unacknowledged two ticks after they were first sent).
    let regionHandoversResent: CoreMetrics.Counter
    private let regionMissing = Mutex<[Int: CoreMetrics.Gauge]>([:])
    private let scenes = Mutex<[String: SceneMetrics]>([:])
    private let refusals = Mutex<[UInt16: CoreMetrics.Counter]>([:])

    public init() {
        registry = PrometheusCollectorRegistry()
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = [1, 2, 5, 10, 20, 30, 40, 50, 75, 100, 200, 500].map { Duration.milliseconds($0) }
        factory = f
        clients = CoreMetrics.Gauge(label: "twinscene_clients", factory: f)
        bytesSent = CoreMetrics.Counter(label: "twinscene_bytes_sent_total", factory: f)
        framesSkipped = CoreMetrics.Counter(label: "twinscene_frames_skipped_total", factory: f)
        controlActions = CoreMetrics.Counter(label: "twinscene_control_actions_total", factory: f)
        eventsDropped = CoreMetrics.Counter(label: "twinscene_events_dropped_total", factory: f)
        framesOversized = CoreMetrics.Counter(label: "twinscene_frames_oversized_total", factory: f)
        framesTruncated = CoreMetrics.Counter(label: "twinscene_frames_truncated_total", factory: f)
        requestsLimited = CoreMetrics.Counter(label: "twinscene_requests_limited_total", factory: f)
        authFailures = CoreMetrics.Counter(label: "twinscene_auth_failures_total", factory: f)
        slowClientsClosed = CoreMetrics.Counter(label: "twinscene_slow_clients_closed_total", factory: f)
        inputsApplied = CoreMetrics.Counter(label: "twinscene_inputs_applied_total", factory: f)
        feedMessagesOut = CoreMetrics.Counter(label: "twinscene_feed_messages_out_total", factory: f)
        feedBytesOut = CoreMetrics.Counter(label: "twinscene_feed_bytes_out_total", factory: f)
        feedRefused = CoreMetrics.Counter(label: "twinscene_feed_refused_total", factory: f)
        feedKeyRequests = CoreMetrics.Counter(label: "twinscene_feed_key_requests_total", factory: f)
        feedMessagesIn = CoreMetrics.Counter(label: "twinscene_feed_messages_in_total", factory: f)
        feedResyncs = CoreMetrics.Counter(label: "twinscene_feed_resyncs_total", factory: f)
        regionHandovers = CoreMetrics.Counter(label: "twinscene_region_handovers_total", factory: f)
        regionBorderBytes = CoreMetrics.Counter(label: "twinscene_region_border_bytes_total", factory: f)
        regionWaitsTimedOut = CoreMetrics.Counter(label: "twinscene_region_waits_timed_out_total", factory: f)
        regionLateHandovers = CoreMetrics.Counter(label: "twinscene_region_late_handovers_total", factory: f)
        regionHandoversResent = CoreMetrics.Counter(label: "twinscene_region_handovers_resent_total", factory: f)
    }

    /// 1 while the shard of region `k` has sent no border for longer than the wait.
    func regionMissing(_ k: Int) -> CoreMetrics.Gauge {
        regionMissing.withLock { all in
            if let g = all[k] { return g }
            let g = CoreMetrics.Gauge(label: "twinscene_region_missing", dimensions: [("region", "\(k)")], factory: factory)
            all[k] = g
            return g
        }
    }

    /// Participants' joins and inputs refused, by code (docs/PROTOCOL.md, "Participants").
    func refusal(_ code: ErrorCode) -> CoreMetrics.Counter {
        refusals.withLock { all in
            if let c = all[code.rawValue] { return c }
            let c = CoreMetrics.Counter(label: "twinscene_participant_refusals_total", dimensions: [("code", "\(code)")], factory: factory)
            all[code.rawValue] = c
            return c
        }
    }

    /// The metrics of one scene, labelled with its name.
    func scene(_ name: String) -> SceneMetrics {
        scenes.withLock { all in
            if let m = all[name] { return m }
            let dims = [("scene", name)]
            let m = SceneMetrics(
                tickDuration: Metrics.Timer(label: "twinscene_tick_duration_seconds", dimensions: dims, factory: factory),
                overruns: CoreMetrics.Counter(label: "twinscene_tick_overruns_total", dimensions: dims, factory: factory),
                entities: CoreMetrics.Gauge(label: "twinscene_entities", dimensions: dims, factory: factory),
                ticks: CoreMetrics.Counter(label: "twinscene_ticks_total", dimensions: dims, factory: factory),
                feedSilent: CoreMetrics.Gauge(label: "twinscene_feed_silent", dimensions: dims, factory: factory))
            all[name] = m
            return m
        }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String { registry.emitToString() }
}

/// Per-scene instruments.
struct SceneMetrics: Sendable {
    let tickDuration: Metrics.Timer
    let overruns: CoreMetrics.Counter
    let entities: CoreMetrics.Gauge
    let ticks: CoreMetrics.Counter
    /// A gateway's relay: 1 while no tick has come from the scene's process for `RelayState.silentAfter`.
    let feedSilent: CoreMetrics.Gauge
}
