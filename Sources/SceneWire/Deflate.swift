import CZlib
import NIOCore

/// Raw DEFLATE (RFC 1951, no zlib header or checksum) with one reusable zlib stream.
///
/// A class, not a struct: zlib's state (about 256 KiB at level 6) lives on the C heap, and a
/// copyable struct with a manual `close()` leaked it whenever a copy went away unclosed. The
/// stream is allocated on the first `deflate` and freed in `deinit`, as swift-nio-extras keeps
/// its zlib stream. Not thread-safe: one owner at a time (an encoder, one message's coding).
public final class Deflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let level: Int32
    private var ready = false

    public init(level: Int32 = 1) {
        self.level = level
        stream.initialize(to: z_stream())
    }

    deinit {
        if ready { deflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses `input` as one complete raw DEFLATE block sequence.
    public func deflate<C: Collection>(_ input: C) -> ByteBuffer where C.Element == UInt8 {
        if !ready {
            let rc = deflateInit2_(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            precondition(rc == Z_OK, "zlib deflateInit2 failed: \(rc)")
            ready = true
        } else {
            CZlib.deflateReset(stream)
        }
        let bytes = Array(input)
        let bound = Int(deflateBound(stream, UInt(bytes.count))) + 16
        var out = ByteBufferAllocator().buffer(capacity: bound)
        let stream = self.stream
        bytes.withUnsafeBufferPointer { inPtr in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inPtr.baseAddress)
            stream.pointee.avail_in = UInt32(inPtr.count)
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { outPtr in
                stream.pointee.next_out = outPtr.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(outPtr.count)
                let rc = CZlib.deflate(stream, Z_FINISH)
                precondition(rc == Z_STREAM_END, "zlib deflate did not finish within deflateBound: \(rc)")
                return outPtr.count - Int(stream.pointee.avail_out)
            }
        }
        // zlib keeps pointers into our buffers only for the duration of the call.
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        return out
    }
}

/// Inflation with the output size known up front, so a hostile block cannot make the
/// decoder allocate more than the frame limit.
public enum Inflater {
    public static func inflate<C: Collection>(_ input: C, expectedLength: Int) throws(WireError) -> ByteBuffer where C.Element == UInt8 {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .badCompression("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        let bytes = Array(input)
        var out = ByteBufferAllocator().buffer(capacity: max(expectedLength, 1))
        var rc: Int32 = Z_OK
        var produced = 0
        bytes.withUnsafeBufferPointer { inPtr in
            stream.next_in = UnsafeMutablePointer(mutating: inPtr.baseAddress)
            stream.avail_in = UInt32(inPtr.count)
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: max(expectedLength, 1)) { outPtr in
                stream.next_out = outPtr.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(expectedLength)
                rc = CZlib.inflate(&stream, Z_FINISH)
                produced = expectedLength - Int(stream.avail_out)
                return produced
            }
        }
        guard rc == Z_STREAM_END else {
            throw .badCompression(rc == Z_BUF_ERROR ? "inflates to more than the announced \(expectedLength) bytes, or is cut short" : "zlib error \(rc)")
        }
        guard produced == expectedLength else { throw .badCompression("inflated to \(produced) bytes, \(expectedLength) announced") }
        guard stream.avail_in == 0 else { throw .badCompression("\(stream.avail_in) bytes after the end of the block") }
        return out
    }
}
