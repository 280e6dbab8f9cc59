import StrictJSON
import Foundation

/// A value set once by one thread and waited for by others.
/// `@unchecked Sendable`: `value` is read and written only with `condition` locked.
final class Latch<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value?

    func set(_ v: Value) {
        condition.lock()
        value = v
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> Value {
        condition.lock()
        defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}

/// A value handed to a worker thread by code that guarantees no other thread uses it
/// meanwhile (`@unchecked Sendable` on that promise: the hashing closure runs on one worker,
/// while the reading thread waits for it).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

/// Tapes kept between jobs, so that a worker parses into memory already paged in.
/// `@unchecked Sendable`: `tapes` is used only with `lock` held, and a tape taken out is used
/// by one worker until it gives it back (a `Mutex` cannot take in a non-Sendable value from
/// outside its closure, so this pool keeps its own lock).
final class TapeStore: @unchecked Sendable {
    private let lock = NSLock()
    private var tapes: [JSONTape] = []

    func take() -> JSONTape { lock.withLock { tapes.popLast() } ?? JSONTape() }
    func give(_ tape: JSONTape) { lock.withLock { tapes.append(tape) } }
}

/// Bytes read by worker threads while their owner waits for them (see `OrderedWorkers.finish`).
/// `@unchecked Sendable`: nobody writes the bytes while workers read them, and the owner
/// keeps them alive until every worker is done.
struct SharedBytes: @unchecked Sendable {
    let bytes: UnsafeBufferPointer<UInt8>
}

/// Parsing on several threads. The reading thread (the catalog's writer) cuts the file
/// into pieces of whole features (CityJSONSeq) or whole CityObjects (CityJSON), workers
/// parse them and build records, and the reading thread takes the records back in file
/// order: rows are inserted in the same order, and the first error in the file is the
/// one reported, as when reading on one thread.
extension CityJSONReader {
    /// Jobs in flight per worker: enough to keep every worker busy while the reading
    /// thread inserts, few enough to bound memory.
    static let jobsPerWorker = 3

    /// Reads a whole CityJSON document with workers. This thread only scans `CityObjects`
    /// and skips `vertices`; workers parse the vertices (one job) and runs of CityObjects
    /// (the others), and build the records once the vertices are known. Parents and parts
    /// are held back and rolled up together at the end (they may lie in different runs).
    /// Any error is thrown as is; the caller re-reads on one thread to name it exactly.
    /// A CityObject id that appears twice is left to `sink` to refuse (the catalog's unique
    /// index does): checking 100k ids here would hold up the one thread that writes.
    static func readDocumentInPieces(_ bytes: UnsafeBufferPointer<UInt8>, file path: String, crsOverride: Int?, workers: Int,
                                     pieceBytes: Int, onBytes: ((UnsafeRawBufferPointer) -> Void)?,
                                     progress: ((Int) -> Void)?,
                                     sink: ([CityObjectRecord]) throws -> Void) throws -> TileHeader {
        let tape = JSONTape()
        try tape.parse(bytes, deferring: "CityObjects", skipping: "vertices")
        let doc = JSONDocument(bytes: bytes, tape: tape)
        let header = try documentHeader(doc, file: path, crsOverride: crsOverride)
        guard let objects = doc.member(doc.root, "CityObjects"), let deferred = tape.deferred, deferred.node == objects,
              let verticesNode = doc.member(doc.root, "vertices"), let skipped = tape.skipped, skipped.node == verticesNode else {
            throw TileError(file: path, problem: "no \"CityObjects\" object or no \"vertices\" array")
        }
        let shared = SharedBytes(bytes: bytes)
        let extractor = Latch<Result<CityObjectExtractor, TileError>>()
        let pool = OrderedWorkers<Result<[CityObjectRecord], TileError>>(threads: workers)
        defer { pool.finish() }
        let tapes = TapeStore()
        if let onBytes {
            // Hashing the file waits for nothing: a worker does it while the others parse.
            // (This thread touches nothing onBytes touches until the pool has finished.)
            let hashing = UncheckedSendable(value: onBytes)
            pool.submit {
                hashing.value(UnsafeRawBufferPointer(shared.bytes))
                return .success([])
            }
        }
        pool.submit {
            let tape = JSONTape()
            let span = UnsafeBufferPointer(rebasing: shared.bytes[skipped.bytes])
            do throws(TileError) {
                var vertices: [Int64]
                if let plain = VertexReader.read(span, header: header) {
                    vertices = plain
                } else {
                    let doc = try parse(span, into: tape, file: path, line: nil)
                    vertices = try readVertices(doc, doc.root, file: path, header: header)
                }
                extractor.set(.success(CityObjectExtractor(file: path, header: header, vertices: vertices)))
            } catch {
                extractor.set(.failure(error))
            }
            return .success([])
        }
        var pieces = pieceRanges(deferred, pieceBytes: pieceBytes)[...]
        var held: [CityObjectRecord] = []
        // Where each piece submitted ends in the file, for progress as their records come back.
        var ends: [Int] = []
        var leadingJobs = onBytes == nil ? 1 : 2
        while !pieces.isEmpty || pool.pending > 0 {
            while let piece = pieces.first, pool.pending < max(1, workers) * jobsPerWorker {
                pieces.removeFirst()
                ends.append(piece.upperBound)
                pool.submit {
                    let tape = tapes.take()
                    defer { tapes.give(tape) }
                    do throws(TileError) {
                        do throws(JSONSyntaxError) {
                            try tape.parseMembers(shared.bytes, from: piece.lowerBound, to: piece.upperBound, parent: "CityObjects",
                                                  checkingKeys: false)
                        } catch {
                            throw TileError(file: path, problem: "invalid JSON: \(error)")
                        }
                        let doc = JSONDocument(bytes: shared.bytes, tape: tape)
                        return .success(try extractor.wait().get().records(doc, doc.root, rollingUp: false))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            let records = try pool.next().get()
            if leadingJobs > 0 {
                leadingJobs -= 1    // the hash or the vertices: no records
                continue
            }
            var free: [CityObjectRecord] = []
            for r in records {
                if r.parent != nil || r.hasChildren { held.append(r) } else { free.append(r) }
            }
            try sink(free)
            progress?(ends.removeFirst())
        }
        if !held.isEmpty { try sink(CityObjectExtractor.rollUp(held)) }
        try requireCRS(header, file: path)
        return header
    }

    /// Runs of whole members of about `pieceBytes` each.
    static func pieceRanges(_ deferred: DeferredMembers, pieceBytes: Int) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var first = 0
        let count = deferred.members.count
        for k in 1..<count + 1 {
            let end = k < count ? deferred.members[k] : deferred.close
            if end - deferred.members[first] >= pieceBytes || k == count {
                pieces.append(deferred.members[first]..<end)
                first = k
            }
        }
        return pieces
    }

    /// What a worker made of a block of CityJSONSeq lines: records per feature line, and
    /// the error that stopped it, if any.
    struct BlockResult: Sendable {
        var features: [(line: Int, records: [CityObjectRecord])] = []
        var error: TileError?
    }

    /// Reads the features after the header line in blocks of lines parsed by workers.
    static func sequenceRecords(_ lines: inout LineReader, header: TileHeader, file: String, workers: Int, blockBytes: Int,
                                progress: ((Int) -> Void)?, sink: ([CityObjectRecord]) throws -> Void) throws {
        let pool = OrderedWorkers<BlockResult>(threads: workers)
        defer { pool.finish() }
        var lineNumber = 1
        var seen = Set<String>()
        var atEnd = false
        var bytesDone: [Int] = []
        while !atEnd || pool.pending > 0 {
            while !atEnd && pool.pending < workers * jobsPerWorker {
                guard let (block, lineCount, bytesRead) = try lines.nextBlock(minBytes: blockBytes) else { atEnd = true; break }
                let firstLine = lineNumber + 1
                lineNumber += lineCount
                bytesDone.append(bytesRead)
                pool.submit { parseBlock(block, firstLine: firstLine, file: file, header: header) }
            }
            guard pool.pending > 0 else { break }
            let result = pool.next()
            for (line, records) in result.features {
                for r in records where !seen.insert(r.id).inserted {
                    throw TileError(file: file, object: r.id, problem: "line \(line): the id appears in an earlier feature too")
                }
                try sink(records)
            }
            if let error = result.error { throw error }
            progress?(bytesDone.removeFirst())
        }
    }

    /// Parses the lines of one block (a worker's job).
    static func parseBlock(_ block: [UInt8], firstLine: Int, file: String, header: TileHeader) -> BlockResult {
        var result = BlockResult()
        let tape = JSONTape()
        block.withUnsafeBufferPointer { all in
            var start = 0
            var line = firstLine
            while start < all.count {
                var end = start
                while end < all.count && all[end] != 0x0A { end += 1 }
                let bytes = UnsafeBufferPointer(rebasing: all[start..<end])
                defer { start = end + 1; line += 1 }
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                do throws(TileError) {
                    result.features.append((line, try feature(bytes, tape: tape, file: file, line: line, header: header)))
                } catch {
                    result.error = error
                    return
                }
            }
        }
        return result
    }
}
