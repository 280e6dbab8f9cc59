import Foundation
import NIOCore
import Scenarios
import SceneWire

/// `/api/scenes` and `/api/scenes/NAME`: what SceneList and SceneInfo carry, as JSON.
enum SceneJSON {
    struct Summary: Codable, Equatable {
        var name: String
        var scenario: String
        var entities: UInt32
        var tickRate: UInt16
        /// Who may join as a participant: "closed", "open" or "token" (protocol version 3).
        var join: String
        var maxParticipants: Int
    }

    struct Attribute: Codable, Equatable {
        var name: String
        var type: UInt8
    }

    struct Kind: Codable, Equatable {
        var code: UInt8
        var name: String
        var attributes: [Attribute]
        /// 2, or 3 for a kind whose height travels in the position stream.
        var dimensions: Int
        var zMin: Float?
        var zMax: Float?
    }

    struct Area: Codable, Equatable {
        var minX: Double, minY: Double, maxX: Double, maxY: Double
    }

    struct Info: Codable, Equatable {
        var name: String
        var epsg: UInt32
        var originX: Double
        var originY: Double
        var quantum: Double
        var tickRate: UInt16
        var bounds: Area
        var cellSize: Double
        var cellColumns: UInt16
        var cellRows: UInt16
        var kinds: [Kind]
        /// The scene's tick when this was made.
        var tick: UInt64
    }

    static func summaries(_ list: [SceneSummary], policies: [String: JoinPolicy]) -> [Summary] {
        list.map { s in
            let p = policies[s.name] ?? .closed
            let join = switch p.access { case .closed: "closed"; case .open: "open"; case .token: "token" }
            return Summary(name: s.name, scenario: s.scenario, entities: s.entities, tickRate: s.tickRate,
                           join: p.joinable ? join : "closed", maxParticipants: p.joinable ? p.maxParticipants : 0)
        }
    }

    static func info(_ m: SceneInfoMessage, tick: UInt64) -> Info {
        Info(name: m.scene, epsg: m.epsg, originX: m.originX, originY: m.originY, quantum: m.quantum, tickRate: m.tickRate,
             bounds: Area(minX: m.bounds.minX, minY: m.bounds.minY, maxX: m.bounds.maxX, maxY: m.bounds.maxY),
             cellSize: m.cellSize, cellColumns: m.cellColumns, cellRows: m.cellRows,
             kinds: m.kinds.map { k in
                 Kind(code: k.code, name: k.name, attributes: k.attributes.map { Attribute(name: $0.name, type: $0.type) },
                      dimensions: k.zRange == nil ? 2 : 3, zMin: k.zRange?.lowerBound, zMax: k.zRange?.upperBound)
             },
             tick: tick)
    }

    static func encode(_ value: some Encodable) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ByteBuffer(bytes: Array((try? encoder.encode(value)) ?? Data("{}".utf8)))
    }
}
