internal import CZlib
import Foundation

/// The lines of a tracking file, plain or gzip-compressed (`.csv.gz`: recognised by its
/// bytes, not its name), with `\r\n` endings taken as `\n`.
enum TrackingText {
    /// The most a compressed file may inflate to: tracking files are tens of megabytes, and
    /// a bound keeps a hostile or broken archive from filling memory.
    static let maximumInflatedBytes = 1 << 30

    static func contents(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrackingError(file: path, line: 0, problem: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        guard data.count >= 2, data[data.startIndex] == 0x1F, data[data.startIndex + 1] == 0x8B else { return data }
        return try gunzip(data, path: path)
    }

    /// Lines as byte slices of `contents`, without their line endings; trailing empty lines dropped.
    static func lines(_ data: Data) -> [Substring] {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { raw -> Substring in
            Substring(String(decoding: raw.last == 0x0D ? raw.dropLast() : raw, as: UTF8.self))
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// Inflates every gzip member of `data` (zlib's automatic header detection).
    static func gunzip(_ data: Data, path: String) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TrackingError(file: path, line: 0, problem: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var out = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let input = [UInt8](data)
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { buf -> Int32 in
                    stream.next_out = buf.baseAddress
                    stream.avail_out = UInt32(buf.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                out.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
                guard out.count <= maximumInflatedBytes else {
                    throw TrackingError(file: path, line: 0, problem: "inflates to more than \(maximumInflatedBytes >> 20) MiB: not read")
                }
                if status == Z_STREAM_END {
                    // Another gzip member may follow (concatenated archives).
                    guard stream.avail_in > 0 else { return }
                    guard inflateReset(&stream) == Z_OK else { return }
                    continue
                }
                guard status == Z_OK || (status == Z_BUF_ERROR && stream.avail_in > 0) else {
                    let why = status == Z_BUF_ERROR ? "the compressed file ends early (truncated?)" : "is not valid gzip data (zlib error \(status))"
                    throw TrackingError(file: path, line: 0, problem: why)
                }
            }
        }
        return out
    }
}
