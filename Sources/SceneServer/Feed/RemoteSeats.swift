import Dispatch
import NATSClient
import NIOCore
import SceneWire
import Synchronization

/// A participant's session on a gateway, as the scene's desk sees it: its messages go back
/// over NATS to the gateway, which passes them to the client unchanged.
final class RemoteParticipantLink: ParticipantLink {
    let gateway: String
    let session: UInt64
    let address: String
    let connection: NATSConnection

    init(gateway: String, session: UInt64, address: String, connection: NATSConnection) {
        self.gateway = gateway; self.session = session; self.address = address; self.connection = connection
    }

    func deliver(_ message: WireMessage) {
        // NATS away: lost, as a frame to a dropped connection is; the gateway's client
        // resyncs and its Join or Input times out or is sent again.
        try? connection.publish(gateway, payload: FeedDeskReply(session: session, frame: message.frame()).encoded())
    }
}

/// A scene process's links to the gateways' sessions that joined or are joining one scene,
/// by gateway and session, and when each gateway was last heard from. Bounded: a Join from a
/// new session beyond `limit` links is refused (`RemoteSeats.full`).
final class RemoteSeats: Sendable {
    /// A gateway not heard from for this long (ns) has its sessions dropped.
    static let silentAfter: UInt64 = 10_000_000_000
    let limit: Int
    private let state = Mutex<(links: [String: [UInt64: RemoteParticipantLink]], heard: [String: UInt64], count: Int)>(([:], [:], 0))

    init(limit: Int) { self.limit = limit }

    /// The session's link, made on its first Join; nil when there are `limit` links already.
    func link(gateway: String, session: UInt64, address: String, connection: NATSConnection) -> RemoteParticipantLink? {
        state.withLock { s in
            s.heard[gateway] = DispatchTime.now().uptimeNanoseconds
            if let l = s.links[gateway]?[session] { return l }
            guard s.count < limit else { return nil }
            let l = RemoteParticipantLink(gateway: gateway, session: session, address: address, connection: connection)
            s.links[gateway, default: [:]][session] = l
            s.count += 1
            return l
        }
    }

    /// The session's link if it has one (an Input, a Leave).
    func existing(gateway: String, session: UInt64) -> RemoteParticipantLink? {
        state.withLock { s in
            s.heard[gateway] = DispatchTime.now().uptimeNanoseconds
            return s.links[gateway]?[session]
        }
    }

    func heard(_ gateway: String) {
        state.withLock { s in if s.links[gateway] != nil { s.heard[gateway] = DispatchTime.now().uptimeNanoseconds } }
    }

    func remove(gateway: String, session: UInt64) -> RemoteParticipantLink? {
        state.withLock { s in
            guard let l = s.links[gateway]?.removeValue(forKey: session) else { return nil }
            s.count -= 1
            if s.links[gateway]!.isEmpty { s.links[gateway] = nil; s.heard[gateway] = nil }
            return l
        }
    }

    /// The links of gateways silent for longer than `silentAfter`, taken out.
    func silent(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> [RemoteParticipantLink] {
        state.withLock { s in
            let gone = s.heard.filter { now > $0.value + Self.silentAfter }.keys
            var out: [RemoteParticipantLink] = []
            for g in gone {
                let links = s.links.removeValue(forKey: g) ?? [:]
                s.heard[g] = nil
                s.count -= links.count
                out += links.values
            }
            return out
        }
    }

    var count: Int { state.withLock { $0.count } }
}
