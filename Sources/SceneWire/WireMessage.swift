import NIOCore

/// An area of interest in scene coordinates (metres from the scene origin).
public struct WireArea: Hashable, Sendable {
    public var minX: Double, minY: Double, maxX: Double, maxY: Double
    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }
    /// Half-open on the max sides, like the engine's rectangles.
    public func contains(x: Double, y: Double) -> Bool { x >= minX && x < maxX && y >= minY && y < maxY }
}

/// One scene as the scene list shows it.
public struct SceneSummary: Equatable, Sendable {
    public var name: String
    public var scenario: String
    public var entities: UInt32
    public var tickRate: UInt16
    public init(name: String, scenario: String, entities: UInt32, tickRate: UInt16) {
        self.name = name; self.scenario = scenario; self.entities = entities; self.tickRate = tickRate
    }
}

/// An attribute of a kind as clients learn it: its name and type (0 float32, 1 int32).
public struct AttributeInfo: Equatable, Sendable {
    public var name: String
    public var type: UInt8
    public init(name: String, type: UInt8) { self.name = name; self.type = type }
}

/// An entity kind in a scene (runner, player, ball, AGV ...) with its attribute schema.
public struct KindInfo: Equatable, Sendable {
    public var code: UInt8
    public var name: String
    public var attributes: [AttributeInfo]
    /// Version 2: the range of z in metres of a kind whose height travels in the position
    /// stream; nil for a kind in two dimensions.
    public var zRange: ClosedRange<Float>?
    public init(code: UInt8, name: String, attributes: [AttributeInfo] = [], zRange: ClosedRange<Float>? = nil) {
        self.code = code; self.name = name; self.attributes = attributes; self.zRange = zRange
    }
}

/// One attribute value of one entity: the raw 32 bits of its declared type.
public struct WireAttribute: Equatable, Sendable {
    public var entity: UInt32
    public var attribute: UInt8
    public var bits: UInt32
    public init(entity: UInt32, attribute: UInt8, bits: UInt32) { self.entity = entity; self.attribute = attribute; self.bits = bits }
}

/// What a subscriber needs to interpret a scene's state frames.
public struct SceneInfoMessage: Equatable, Sendable {
    public var subscription: UInt32
    public var scene: String
    public var epsg: UInt32
    public var originX: Double
    public var originY: Double
    /// Metres per position unit (default 0.01).
    public var quantum: Double
    public var tickRate: UInt16
    public var bounds: WireArea
    /// Side of a wire cell in metres; cell ids are `row * columns + column`.
    public var cellSize: Double
    public var cellColumns: UInt16
    public var cellRows: UInt16
    public var kinds: [KindInfo]
    /// The layout: 2 appends each kind's dimensions (and a height kind's range of z).
    public var version: UInt16

    public init(subscription: UInt32, scene: String, epsg: UInt32, originX: Double, originY: Double, quantum: Double,
                tickRate: UInt16, bounds: WireArea, cellSize: Double, cellColumns: UInt16, cellRows: UInt16, kinds: [KindInfo],
                version: UInt16 = 1) {
        self.subscription = subscription; self.scene = scene; self.epsg = epsg; self.originX = originX; self.originY = originY
        self.quantum = quantum; self.tickRate = tickRate; self.bounds = bounds; self.cellSize = cellSize
        self.cellColumns = cellColumns; self.cellRows = cellRows; self.kinds = kinds; self.version = version
    }

    /// The kinds whose height travels in the position stream (none in version 1).
    public var heights: HeightKinds? {
        guard version >= 2, kinds.contains(where: { $0.zRange != nil }) else { return nil }
        return HeightKinds(kinds, quantum: quantum)
    }
}

/// A building footprint for clients to draw, in position units (quanta) from the origin.
public struct WireBuilding: Equatable, Sendable {
    public var rings: [[SIMD2<Int32>]]
    /// Height in decimetres.
    public var heightDecimetres: UInt16
    public init(rings: [[SIMD2<Int32>]], heightDecimetres: UInt16) { self.rings = rings; self.heightDecimetres = heightDecimetres }
}

/// A scene event for clients.
public struct WireEvent: Equatable, Sendable {
    public var entity: UInt32
    public var kind: UInt16
    public var value: Float
    public init(entity: UInt32, kind: UInt16, value: Float) { self.entity = entity; self.kind = kind; self.value = value }
}

/// Who an entity is (version 2): its stable key, a label to show, a group (team, wave,
/// production line) and a number (bib, jersey; 0 for none). Texts are UTF-8 of at most
/// `maxTextBytes` bytes; the encoder cuts longer ones at a character boundary.
public struct WireEntityInfo: Equatable, Sendable {
    public var entity: UInt32
    public var kind: UInt8
    public var key: String
    public var label: String
    public var group: String
    public var number: UInt32
    public static let maxTextBytes = 64

    public init(entity: UInt32, kind: UInt8, key: String, label: String, group: String = "", number: UInt32 = 0) {
        self.entity = entity; self.kind = kind; self.key = key; self.label = label; self.group = group; self.number = number
    }

    /// A text cut to at most `maxTextBytes` bytes of UTF-8, never inside a character.
    public static func clip(_ text: String) -> String {
        guard text.utf8.count > maxTextBytes else { return text }
        var out = ""
        var used = 0
        for ch in text {
            let n = String(ch).utf8.count
            if used + n > maxTextBytes { break }
            out.append(ch); used += n
        }
        return out
    }
}

/// Operator commands (need the admin token).
public enum ControlCommand: Equatable, Sendable {
    case pause
    case resume
    case step(UInt32)
    case speed(Float)
    case reset(seed: UInt64)
    case loadTile(String)
    case listClients
    /// Puts an entity (a factory machine) into fault.
    case fault(UInt32)

    var opcode: UInt8 {
        switch self {
        case .pause: return 1
        case .resume: return 2
        case .step: return 3
        case .speed: return 4
        case .reset: return 5
        case .loadTile: return 6
        case .listClients: return 7
        case .fault: return 8
        }
    }
}

/// Where a joining participant starts (version 3's Join).
public enum WireStart: Equatable, Sendable {
    /// On the start line, at once.
    case line
    /// In a start wave, 1 first.
    case wave(UInt8)
}

/// What a participant wants (version 3's Input): never a position write.
public enum WireInput: Equatable, Sendable {
    /// Free mode: heading in radians counter-clockwise from the scene's +x (east), speed m/s.
    case heading(radians: Float, speed: Float)
    /// The marathon's treadmill mode: speed along the course, m/s.
    case treadmill(speed: Float)
    /// A position fix in scene metres with the phone's timestamp (microseconds, increasing).
    case fix(x: Float, y: Float, timeMicros: UInt64)
}

/// Every message of the protocol. `StateFrame` carries pre-coded cell blocks, shared
/// byte for byte between subscribers (see `CellBlock`).
public enum WireMessage: Equatable, Sendable {
    case hello(minVersion: UInt16, maxVersion: UInt16, client: String)
    case welcome(version: UInt16, maxFrameBytes: UInt32, serverTimeMicros: UInt64, server: String)
    case listScenes
    case sceneList([SceneSummary])
    case subscribe(subscription: UInt32, scene: String, area: WireArea?)
    case unsubscribe(subscription: UInt32)
    case moveArea(subscription: UInt32, area: WireArea?)
    /// Version 2's MoveArea: the request id comes back in `areaMoved`.
    case moveAreaRequest(subscription: UInt32, request: UInt32, area: WireArea?)
    /// Version 2: the area of `request` applies from the StateFrame of `tick` on.
    case areaMoved(subscription: UInt32, request: UInt32, tick: UInt64)
    /// Version 2: who the listed entities are.
    case entityInfo(subscription: UInt32, entities: [WireEntityInfo])
    case sceneInfo(SceneInfoMessage)
    case staticGeometry(subscription: UInt32, buildings: [WireBuilding])
    /// `tick` and `serverTimeMicros` are nil when the frame leaves them out: the tick is then
    /// the previous frame's plus one (only resync frames must carry it).
    /// `countsCells` false is version 2's layout: flag bit 3 set, no cell count, the blocks run
    /// to the end of the payload.
    case stateFrame(subscription: UInt32, tick: UInt64?, serverTimeMicros: UInt64?, resync: Bool, cells: [ByteBuffer], countsCells: Bool = true)
    case events(subscription: UInt32, tick: UInt64, events: [WireEvent])
    /// Attribute values: the changes of a tick, or (`snapshot`) every value of the entities
    /// a resync just delivered.
    case attributes(subscription: UInt32, tick: UInt64, snapshot: Bool, values: [WireAttribute])
    case control(token: String, scene: String, command: ControlCommand)
    case controlResult(ok: Bool, message: String)
    case ping(nonce: UInt64, timeMicros: UInt64)
    case pong(nonce: UInt64, echoedMicros: UInt64, serverTimeMicros: UInt64)
    case error(code: UInt16, message: String)
    case goodbye(reason: String)
    /// Version 3: take part in a scene. Empty tokens are none; a resume token takes back the
    /// participant of an earlier connection.
    case join(request: UInt32, scene: String, name: String, start: WireStart, joinToken: String, resumeToken: String)
    /// Version 3: the participant's wire id (its entity), the tick it joined at, where it is
    /// (scene metres), its kind's limits, and the token that takes it back after a drop.
    case joined(request: UInt32, participant: UInt32, tick: UInt64, x: Float, y: Float, maxSpeed: Float, maxAcceleration: Float, resumeToken: String)
    /// Version 3: at most 20 a second per participant, sequence numbers increasing.
    case input(participant: UInt32, sequence: UInt32, input: WireInput)
    /// Version 3: the last input of `participant` applied, the tick whose frame shows it, and
    /// where the participant is at that tick (scene metres): the server's word, to reconcile with.
    case inputAck(participant: UInt32, sequence: UInt32, tick: UInt64, x: Float, y: Float)
    case leave(participant: UInt32)
    /// Version 3: a Join (`request` its request id) or an Input (`request` its sequence
    /// number) refused, with its code; `count` refusals with this code since the last Refused
    /// carrying it, this one included (refusals are sent at most once a second per code).
    case refused(request: UInt32, code: UInt16, count: UInt32, message: String)

    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .welcome: return .welcome
        case .listScenes: return .listScenes
        case .sceneList: return .sceneList
        case .subscribe: return .subscribe
        case .unsubscribe: return .unsubscribe
        case .moveArea: return .moveArea
        case .moveAreaRequest: return .moveAreaRequest
        case .areaMoved: return .areaMoved
        case .entityInfo: return .entityInfo
        case .sceneInfo: return .sceneInfo
        case .staticGeometry: return .staticGeometry
        case .stateFrame: return .stateFrame
        case .events: return .events
        case .attributes: return .attributes
        case .control: return .control
        case .controlResult: return .controlResult
        case .ping: return .ping
        case .pong: return .pong
        case .error: return .error
        case .goodbye: return .goodbye
        case .join: return .join
        case .joined: return .joined
        case .input: return .input
        case .inputAck: return .inputAck
        case .leave: return .leave
        case .refused: return .refused
        }
    }
}
