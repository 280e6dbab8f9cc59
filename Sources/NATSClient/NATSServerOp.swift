import Foundation
import NIOCore

/// What the server sends (docs.nats.io, "Client protocol").
enum NATSServerOp: Sendable {
    case info(NATSServerInfo)
    case message(NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

/// The fields of INFO the client uses; the rest are ignored.
public struct NATSServerInfo: Sendable, Decodable, Equatable {
    public var serverID: String
    public var version: String
    public var maxPayload: Int
    public var headers: Bool
    public var proto: Int
    /// Set in the INFO a server sends when it enters lame duck mode (about to shut down).
    public var lameDuckMode: Bool
    public var connectURLs: [String]

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id", version, maxPayload = "max_payload", headers, proto, lameDuckMode = "ldm", connectURLs = "connect_urls"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serverID = try c.decodeIfPresent(String.self, forKey: .serverID) ?? ""
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? ""
        maxPayload = try c.decodeIfPresent(Int.self, forKey: .maxPayload) ?? 1 << 20
        headers = try c.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        proto = try c.decodeIfPresent(Int.self, forKey: .proto) ?? 0
        lameDuckMode = try c.decodeIfPresent(Bool.self, forKey: .lameDuckMode) ?? false
        connectURLs = try c.decodeIfPresent([String].self, forKey: .connectURLs) ?? []
    }
}
