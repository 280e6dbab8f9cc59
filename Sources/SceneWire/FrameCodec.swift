import NIOCore

/// One frame off the wire: its type byte and payload, not yet interpreted.
public struct WireFrame: Equatable, Sendable {
    public var type: UInt8
    public var payload: ByteBuffer
    public init(type: UInt8, payload: ByteBuffer) { self.type = type; self.payload = payload }
}

/// Splits the byte stream into frames: `varint length` (at most 4 bytes), `u8 type`, payload.
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
        // Bytes left when the stream ended (whether or not it was half-closed first) are a
        // frame cut short: said, not dropped silently.
        if buffer.readableBytes > 0 {
            let left = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: left)
            throw WireError.truncated("frame: the stream ended \(left) bytes into it")
        }
        return .needMoreData
    }

    /// The next whole frame, nil when more bytes are needed.
    public func next(_ buffer: inout ByteBuffer) throws(WireError) -> WireFrame? {
        // The length: a varint of at most 4 bytes (frames are under 256 MiB).
        var length = 0
        var prefix = 0
        while true {
            guard let byte = buffer.getInteger(at: buffer.readerIndex + prefix, as: UInt8.self) else { return nil }
            length |= Int(byte & 0x7F) << (7 * prefix)
            prefix += 1
            if byte & 0x80 == 0 { break }
            if prefix == 4 { throw .frameTooLarge(length: Int.max, limit: maxFrameBytes) }
        }
        guard length > 0 else { throw .emptyFrame }
        guard length <= maxFrameBytes else { throw .frameTooLarge(length: length, limit: maxFrameBytes) }
        guard buffer.readableBytes >= prefix + length else { return nil }
        buffer.moveReaderIndex(forwardBy: prefix)
        let type: UInt8 = buffer.readInteger()!
        let payload = buffer.readSlice(length: length - 1)!
        return WireFrame(type: type, payload: payload)
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
