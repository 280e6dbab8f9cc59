import Foundation
import CoreMetrics
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import Scenarios
import SceneCore
import SceneWire
import Synchronization

/// Runs one scene: a fixed-rate tick loop on its own thread, the state encoder, and the
/// fan-out of coded cell blocks to every subscription of the scene.
///
/// Subscriptions live on the runner's thread; sessions change them through `enqueue`, so
/// the tick loop never waits on a lock held by the network side.
public final class SceneRunner: Sendable {
    public let name: String
    public let scenario: String
    public let tickRate: Int
    /// The scene's information; `subscription` is set per subscriber when sent.
    public let info: SceneInfoMessage
    let loop: NIOLockedValueBox<RunnerState>
    let commands = NIOLockedValueBox<[RunnerCommand]>([])
    let stopped = Atomic<Bool>(false)
    let tickCounter = Atomic<UInt64>(0)
    let entityCounter = Atomic<Int>(0)
    let overrunCounter = Atomic<Int>(0)
    let subscriberCounter = Atomic<Int>(0)
    let logger: Logger
    private let done = NIOLockedValueBox<Bool>(false)
    private let doneCondition = NSCondition()

    let sceneMetrics: SceneMetrics
    let metrics: ServerMetrics

    public init(scene: LoadedScene, logger: Logger, outboundBudget: Int = 1 << 20, metrics: ServerMetrics = ServerMetrics()) {
        self.metrics = metrics
        self.sceneMetrics = metrics.scene(scene.manifest.name)
        let m = scene.manifest
        self.name = m.name
        self.scenario = m.scenario
        self.tickRate = m.tickRate
        let bounds = scene.world.bounds
        let encoder = SceneStateEncoder(bounds: WireArea(minX: Double(bounds.minX), minY: Double(bounds.minY),
                                                         maxX: Double(bounds.maxX), maxY: Double(bounds.maxY)),
                                        quantum: m.quantum, cellSize: m.wireCellSize)
        self.info = SceneInfoMessage(
            subscription: 0, scene: m.name, epsg: UInt32(scene.epsg), originX: scene.origin.x, originY: scene.origin.y, quantum: m.quantum,
            tickRate: UInt16(m.tickRate),
            bounds: WireArea(minX: Double(bounds.minX), minY: Double(bounds.minY), maxX: Double(bounds.maxX), maxY: Double(bounds.maxY)),
            cellSize: m.wireCellSize, cellColumns: UInt16(encoder.columns), cellRows: UInt16(encoder.rows),
            kinds: scene.scenario.kinds.map { kind in
                KindInfo(code: kind.code, name: kind.name,
                         attributes: scene.world.attributes.specs(kind: kind.code).map { AttributeInfo(name: $0.name, type: $0.type.rawValue) })
            })
        let state = RunnerState(scene: scene, encoder: encoder)
        state.outboundBudget = outboundBudget
        state.metrics = metrics
        self.loop = NIOLockedValueBox(state)
        self.logger = logger
        entityCounter.store(scene.world.store.count, ordering: .relaxed)
    }

    /// Ticks done so far.
    public var tick: UInt64 { tickCounter.load(ordering: .relaxed) }
    public var entities: Int { entityCounter.load(ordering: .relaxed) }
    public var overruns: Int { overrunCounter.load(ordering: .relaxed) }
    public var subscribers: Int { subscriberCounter.load(ordering: .relaxed) }

    /// Hands a command to the tick thread; it is applied before the next publish.
    func enqueue(_ c: RunnerCommand) { commands.withLockedValue { $0.append(c) } }

    /// Starts the tick thread.
    public func start() {
        let thread = Thread { [self] in
            run()
            done.withLockedValue { $0 = true }
            doneCondition.lock(); doneCondition.broadcast(); doneCondition.unlock()
        }
        thread.name = "scene-\(name)"
        thread.start()
    }

    /// Stops the tick thread and waits (at most `timeout` seconds) for it to finish.
    public func stop(timeout: Double = 5) {
        stopped.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(timeout)
        doneCondition.lock()
        while !done.withLockedValue({ $0 }) && Date() < deadline { _ = doneCondition.wait(until: min(deadline, Date().addingTimeInterval(0.05))) }
        doneCondition.unlock()
    }

    private func run() {
        var period = 1.0 / Double(tickRate)
        var anchor = DispatchTime.now().uptimeNanoseconds
        var scheduled: UInt64 = 0
        while !stopped.load(ordering: .relaxed) {
            let pending = commands.withLockedValue { list -> [RunnerCommand] in defer { list.removeAll() }; return list }
            let advance = loop.withLockedValue { state -> Bool in
                for c in pending { state.apply(c, runner: self) }
                return !state.paused || state.stepsLeft > 0
            }
            let speed = loop.withLockedValue { $0.speed }
            let newPeriod = 1.0 / (Double(tickRate) * speed)
            if newPeriod != period {
                period = newPeriod
                anchor = DispatchTime.now().uptimeNanoseconds
                scheduled = 0
            }
            let tickStart = DispatchTime.now().uptimeNanoseconds
            loop.withLockedValue { state in
                if advance {
                    if state.stepsLeft > 0 { state.stepsLeft -= 1 }
                    state.scene.world.step()
                    state.encodeTick()
                    tickCounter.store(state.scene.world.tick, ordering: .relaxed)
                    entityCounter.store(state.scene.world.store.count, ordering: .relaxed)
                }
                state.publish(advanced: advance)
                subscriberCounter.store(state.subscriptions.count, ordering: .relaxed)
                if advance {
                    sceneMetrics.tickDuration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - tickStart))
                    sceneMetrics.entities.record(state.scene.world.store.count)
                    sceneMetrics.ticks.increment()
                }
            }
            // Fixed rate without drift: tick N is due at anchor + N * period. An overrun is
            // counted and the schedule re-anchored, so late ticks are not run back to back.
            scheduled += 1
            let due = anchor + UInt64(Double(scheduled) * period * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if now > due + UInt64(period * 1e9) {
                overrunCounter.add(1, ordering: .relaxed)
                sceneMetrics.overruns.increment()
                anchor = now
                scheduled = 0
            } else if now < due {
                let wait = due - now
                // Sleep in short slices so stop() is noticed quickly.
                usleep(UInt32(min(wait / 1000, 50_000)))
                while DispatchTime.now().uptimeNanoseconds < due && !stopped.load(ordering: .relaxed) {
                    let left = due - min(due, DispatchTime.now().uptimeNanoseconds)
                    usleep(UInt32(min(left / 1000, 50_000)))
                }
            }
        }
        loop.withLockedValue { state in
            for s in state.subscriptions { s.outlet.send(WireMessageBox(buffer: WireMessage.goodbye(reason: "scene \(name) stopped").frame())) }
            state.subscriptions.removeAll()
        }
    }
}

extension SceneInfoMessage {
    /// The same scene information for another subscription.
    func message(subscription: UInt32) -> WireMessage {
        var m = self
        m.subscription = subscription
        return .sceneInfo(m)
    }
}
