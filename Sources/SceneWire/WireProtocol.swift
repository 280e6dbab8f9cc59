/// Constants of the twinscene wire protocol; docs/PROTOCOL.md is the normative text.
public enum WireProtocol {
    /// The protocol version this build speaks. A change to any byte layout bumps it.
    public static let version: UInt16 = 3
    /// Oldest version this build still speaks.
    public static let minimumVersion: UInt16 = 1
    /// First four bytes of the Hello payload.
    public static let magic: [UInt8] = Array("TWSN".utf8)
    /// Default largest frame (type byte plus payload) either side accepts.
    public static let defaultMaxFrameBytes = 16 << 20
}

/// Message type codes, the byte after the length prefix.
public enum MessageType: UInt8, Sendable, CaseIterable {
    case hello = 0x01
    case welcome = 0x02
    case listScenes = 0x03
    case sceneList = 0x04
    case subscribe = 0x05
    case unsubscribe = 0x06
    case moveArea = 0x07
    case sceneInfo = 0x08
    case staticGeometry = 0x09
    case stateFrame = 0x0A
    case events = 0x0B
    case control = 0x0C
    case controlResult = 0x0D
    case ping = 0x0E
    case pong = 0x0F
    case error = 0x10
    case goodbye = 0x11
    case attributes = 0x12
    case entityInfo = 0x13
    case moveAreaRequest = 0x14
    case areaMoved = 0x15
    case join = 0x16
    case joined = 0x17
    case input = 0x18
    case inputAck = 0x19
    case leave = 0x1A
    case refused = 0x1B

    /// The first protocol version that has this message; a session of an older version
    /// that sends it is refused (Error 4).
    public var since: UInt16 {
        switch self {
        case .entityInfo, .moveAreaRequest, .areaMoved: return 2
        case .join, .joined, .input, .inputAck, .leave, .refused: return 3
        default: return 1
        }
    }

    /// The last version that has it (MoveArea without a request id is version 1's).
    public var until: UInt16 { self == .moveArea ? 1 : UInt16.max }
}

/// Error codes carried by the Error message.
public enum ErrorCode: UInt16, Sendable, CaseIterable {
    case malformedFrame = 1
    case frameTooLarge = 2
    case unknownMessageType = 3
    case unexpectedMessage = 4
    case versionUnsupported = 5
    case unknownScene = 6
    case tooManySubscriptions = 7
    case tooManyConnections = 8
    case handshakeTimeout = 9
    case idleTimeout = 10
    case unauthorized = 11
    case badControl = 12
    case unknownSubscription = 13
    case serverShuttingDown = 14
    case internalError = 15
    /// A request kind sent faster than its per-connection rate.
    case rateLimited = 16
    /// Over its byte budget, and not draining, for longer than the server waits.
    case tooSlow = 17
    // Refusals of version 3's participants (sent in Refused; the connection stays open).
    /// The scene takes no participants.
    case notJoinable = 18
    /// The scene holds its maximum of participants.
    case sceneFull = 19
    /// A display name empty, over 32 bytes, or with control characters.
    case badName = 20
    /// The scene is joined by token and the Join's is missing or wrong.
    case badJoinToken = 21
    /// A resume token no participant of the scene holds (expired, or never given).
    case badResumeToken = 22
    /// The resume token's participant is still connected elsewhere.
    case resumeTokenInUse = 23
    /// An Input or Leave from a connection with no participant of that id.
    case notJoined = 24
    /// An Input or Leave for another participant's entity.
    case notYourEntity = 25
    /// More than 20 inputs a second: dropped.
    case inputRateExceeded = 26
    /// A sequence number not above the last one received.
    case staleSequence = 27
    /// NaN, an infinity, a negative speed, a heading beyond ±2π, a fix outside the scene or
    /// not after the last one.
    case badInputValue = 28
    /// A speed over the kind's human limit.
    case overHumanLimit = 29
    /// A position fix implying a move faster than the human limit.
    case positionJump = 30
    /// The connection already has a participant (one per connection).
    case alreadyJoined = 31
    /// An input mode or start the scene does not offer.
    case unsupportedInput = 32
    /// Too many Joins or wrong tokens from this address: refused for a while.
    case joinThrottled = 33
}
