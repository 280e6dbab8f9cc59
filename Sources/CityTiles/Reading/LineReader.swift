import Foundation

/// Splits a file into lines without holding more than one line (plus a buffer) in memory.
struct LineReader {
    let handle: FileHandle
    let maxLine: Int
    let file: String
    let onChunk: ((UnsafeRawBufferPointer) -> Void)?
    var buffer: [UInt8] = []
    var start = 0
    var eof = false
    private(set) var bytesRead = 0
    /// Set when the file is read whole: the first read takes it all into one buffer.
    var reserveWhole = false
    /// Whether `onChunk` sees each chunk as it is read.
    var reportsChunks = true
    private var scratch: [UInt8] = []

    /// The file's size when it was opened.
    let expectedSize: Int

    init(handle: FileHandle, maxLine: Int, file: String, onChunk: ((UnsafeRawBufferPointer) -> Void)? = nil) {
        self.handle = handle
        self.maxLine = maxLine
        self.file = file
        self.onChunk = onChunk
        var st = stat()
        expectedSize = fstat(handle.fileDescriptor, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Where the next line lies in `buffer` (without its newline), or the whole file when
    /// `wholeFile`; nil at the end. The range is valid until the next call.
    mutating func next(wholeFile: Bool) throws(TileError) -> Range<Int>? {
        var searchFrom = start
        while true {
            if !wholeFile, let nl = buffer[searchFrom...].firstIndex(of: 0x0A) {
                let line = start..<nl
                start = nl + 1
                return line
            }
            searchFrom = buffer.count - start
            if buffer.count - start > maxLine {
                throw TileError(file: file, problem: wholeFile
                    ? "larger than \(maxLine >> 20) MiB: split it or convert it to CityJSONSeq (.city.jsonl)"
                    : "a line is longer than \(maxLine >> 20) MiB: not a CityJSONSeq file")
            }
            if eof {
                if start >= buffer.count { return nil }
                let rest = start..<buffer.count
                start = buffer.count
                return rest
            }
            try fill()
            searchFrom += start
        }
    }

    /// Reads the next chunk of the file, first dropping the lines already handed out.
    mutating func fill() throws(TileError) {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let got: Int
        if reserveWhole && bytesRead == 0 && expectedSize > 0 {
            // Read whole: straight into one buffer sized for the file.
            let size = min(maxLine + 1, expectedSize)
            var n = 0
            buffer = [UInt8](unsafeUninitializedCapacity: size) { b, count in
                n = Self.read(handle.fileDescriptor, into: UnsafeMutableRawBufferPointer(b))
                count = max(n, 0)
            }
            got = try checked(n)
        } else {
            if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: 4 << 20) }
            let n = scratch.withUnsafeMutableBytes { Self.read(handle.fileDescriptor, into: $0) }
            got = try checked(n)
            buffer.append(contentsOf: scratch[0..<got])
        }
        if got == 0 { eof = true; return }
        if reportsChunks { buffer.withUnsafeBytes { b in onChunk?(UnsafeRawBufferPointer(rebasing: b[(buffer.count - got)...])) } }
        bytesRead += got
        // Refuse garbage before reading a gigabyte of it.
        if bytesRead == got { try CityJSONReader.checkLooksLikeJSON(Array(buffer.prefix(4096)), file: file) }
    }

    private func checked(_ n: Int) throws(TileError) -> Int {
        guard n >= 0 else { throw TileError(file: file, problem: "read error: \(String(cString: strerror(Int32(-n))))") }
        return n
    }

    /// Fills `buffer` from the file as far as it goes: the bytes read, or minus errno.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var total = 0
        while total < buffer.count {
            let n = Foundation.read(fd, buffer.baseAddress! + total, buffer.count - total)
            if n > 0 { total += n; continue }
            if n == 0 { break }
            if errno != EINTR { return -Int(errno) }
        }
        return total
    }

    /// Calls `body` with the bytes of a line returned by `next`.
    func withBytes<R>(_ line: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        try buffer.withUnsafeBufferPointer { b in try body(UnsafeBufferPointer(rebasing: b[line])) }
    }
}

extension LineReader {
    /// The next run of whole lines of at least `minBytes` (less at the end of the file),
    /// copied out, with how many lines it holds and the bytes read from the file so far.
    mutating func nextBlock(minBytes: Int) throws(TileError) -> ([UInt8], Int, Int)? {
        var lines = 0
        var end = start
        while true {
            // Count whole lines already in the buffer.
            while end - start < minBytes, let nl = buffer[end...].firstIndex(of: 0x0A) {
                lines += 1
                end = nl + 1
            }
            if end - start >= minBytes || eof { break }
            if buffer.count - end > maxLine {
                throw TileError(file: file, problem: "a line is longer than \(maxLine >> 20) MiB: not a CityJSONSeq file")
            }
            let before = start
            try fill()
            end -= before - start   // the buffer may have been compacted
        }
        if eof && end < buffer.count {
            // The last line has no newline (or is only whitespace, which the parser skips).
            lines += 1
            end = buffer.count
        }
        guard end > start else { return nil }
        let block = Array(buffer[start..<end])
        start = end
        return (block, lines, bytesRead)
    }
}
