import NIOCore

/// One frame off the wire: its type byte and payload, not yet interpreted.
public struct WireFrame: Equatable, Sendable {
    public var type: UInt8
    public var payload: ByteBuffer
    public init(type: UInt8, payload: ByteBuffer) { self.type = type; self.payload = payload }
}

/// Splits the byte stream into frames: `u32 length (big-endian), u8 type, payload`.
///
/// A length of zero or above `maxFrameBytes` is an error at once, before any byte of
/// the frame is buffered, so a peer cannot make the decoder hold more than the limit.
public struct WireFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireFrame
    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try next(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while let frame = try next(&buffer) { context.fireChannelRead(wrapInboundOut(frame)) }
        return .needMoreData
    }

    /// The next whole frame, nil when more bytes are needed.
    public func next(_ buffer: inout ByteBuffer) throws(WireError) -> WireFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw .emptyFrame }
        guard Int(length) <= maxFrameBytes else { throw .frameTooLarge(length: Int(length), limit: maxFrameBytes) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let type: UInt8 = buffer.readInteger()!
        let payload = buffer.readSlice(length: Int(length) - 1)!
        return WireFrame(type: type, payload: payload)
    }
}

/// Turns frames back into bytes (used by tests and by peers that build frames themselves).
public struct WireFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireFrame
    public init() {}
    public func encode(data: WireFrame, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.payload.readableBytes + 1))
        out.writeInteger(data.type)
        var p = data.payload
        out.writeBuffer(&p)
    }
}

/// Decodes frames into messages. Outbound, peers write whole frames as `ByteBuffer`s
/// (`WireMessage.frame()`), so a frame coded once can be written to many channels.
public final class WireMessageCodec: ChannelInboundHandler, Sendable {
    public typealias InboundIn = WireFrame
    public typealias InboundOut = WireMessage

    public let maxFrameBytes: Int
    public init(maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) { self.maxFrameBytes = maxFrameBytes }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            let message = try WireMessage.decode(type: frame.type, payload: frame.payload, maxFrameBytes: maxFrameBytes)
            context.fireChannelRead(wrapInboundOut(message))
        } catch {
            context.fireErrorCaught(error)
        }
    }
}
