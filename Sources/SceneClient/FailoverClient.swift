import Foundation
import NIOCore
import NIOPosix
import SceneWire
import Synchronization

/// A client of several servers that serve the same scenes (gateways, docs/SCALEOUT.md): it
/// connects to the first that answers, and when its connection is lost (a gateway killed, a
/// network gone) to the next, round robin, with a back-off from 0.1 s doubling to 2 s,
/// subscribing again as it was (its last area). The new server resyncs each subscription, so
/// a `SceneView` goes on from the resync frame. Messages come on `messages`, with a
/// `.switched` event each time it connected to a server.
public final class FailoverClient: Sendable {
    public enum Event: Sendable {
        /// Connected (again) to the server at `index` of the addresses, in protocol `version`
        /// (what a `SceneView` of its messages needs).
        case switched(index: Int, host: String, port: Int, version: UInt16)
        case message(WireMessage)
    }

    public let addresses: [(host: String, port: Int)]
    public let messages: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let subscriptions = Mutex<[UInt32: (scene: String, area: WireArea?)]>([:])
    private let current = Mutex<SceneClient?>(nil)
    private let closed = Atomic<Bool>(false)
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Connections made so far (the first included).
    public var connections: Int { connectionCount.load(ordering: .relaxed) }
    private let connectionCount = Atomic<Int>(0)

    public init(addresses: [(host: String, port: Int)], name: String = "twinscene-client", maxVersion: UInt16 = WireProtocol.version,
                transport: SceneClient.Transport = .tcp) {
        precondition(!addresses.isEmpty, "a failover client needs at least one address")
        self.addresses = addresses
        (messages, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        let t = Task { [self] in await self.loop(name: name, maxVersion: maxVersion, transport: transport) }
        task.withLock { $0 = t }
    }

    private func loop(name: String, maxVersion: UInt16, transport: SceneClient.Transport) async {
        var index = 0, backoff = 0.1
        while !closed.load(ordering: .relaxed) {
            let (host, port) = addresses[index]
            if let client = try? await SceneClient.connect(host: host, port: port, name: name, maxVersion: maxVersion, transport: transport) {
                continuation.yield(.switched(index: index, host: host, port: port, version: client.version))
                // The client becomes current and gets the subscriptions under their lock, so a
                // `subscribe` meanwhile is sent once: before (in the list) or after (by itself).
                subscriptions.withLock { subs in
                    current.withLock { $0 = client }
                    for (id, s) in subs.sorted(by: { $0.key < $1.key }) { client.send(.subscribe(subscription: id, scene: s.scene, area: s.area)) }
                }
                if closed.load(ordering: .relaxed) { await client.close(); break }
                connectionCount.add(1, ordering: .relaxed)
                backoff = 0.1
                do { for try await m in client.messages { continuation.yield(.message(m)) } } catch {}
                current.withLock { $0 = nil }
                await client.close()
            } else {
                try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
                backoff = min(2, backoff * 2)
            }
            index = (index + 1) % addresses.count
        }
        continuation.finish()
    }

    /// Subscribes now and on every server it connects to later.
    public func subscribe(_ id: UInt32, scene: String, area: WireArea? = nil) {
        subscriptions.withLock { subs in
            subs[id] = (scene, area)
            current.withLock { $0 }?.send(.subscribe(subscription: id, scene: scene, area: area))
        }
    }

    /// Moves a subscription's area now and on every server it connects to later.
    public func move(_ id: UInt32, to area: WireArea?) {
        subscriptions.withLock { s in
            guard let old = s[id] else { return }
            s[id] = (old.scene, area)
            current.withLock { $0 }?.send(.moveArea(subscription: id, area: area))
        }
    }

    /// Sends a message to the server connected now (dropped while between servers).
    public func send(_ message: WireMessage) { current.withLock { $0 }?.send(message) }

    public func close() async {
        closed.store(true, ordering: .relaxed)
        if let c = current.withLock({ $0 }) { await c.close() }
        _ = await task.withLock { $0 }?.value
    }
}
