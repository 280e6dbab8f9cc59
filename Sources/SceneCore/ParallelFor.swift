import Dispatch
import Synchronization

/// Runs `body` over `0..<count` split into blocks that `workers` threads claim in turn.
///
/// Blocks are about four per worker so a slow thread does not hold the others back.
/// `body` gets the block's range and index; per-block results merged in block index
/// order are deterministic whatever the worker count, because each block covers an
/// ascending range and the split is a pure function of `count` and `blockSize`.
public func parallelFor(count: Int, workers: Int, blockSize: Int, _ body: @Sendable (Range<Int>, Int) -> Void) {
    guard count > 0 else { return }
    let size = max(1, blockSize)
    let blocks = (count + size - 1) / size
    if workers <= 1 || blocks == 1 {
        for b in 0..<blocks { body(b * size ..< min(count, (b + 1) * size), b) }
        return
    }
    let next = BlockCounter()
    DispatchQueue.concurrentPerform(iterations: min(workers, blocks)) { _ in
        while true {
            let b = next.claim()
            if b >= blocks { return }
            body(b * size ..< min(count, (b + 1) * size), b)
        }
    }
}

/// The block size `parallelFor` callers use: about four blocks per worker, never tiny.
/// It depends only on `count` so that per-block event order is the same for any worker count.
public func standardBlockSize(count: Int) -> Int {
    max(1024, (count + 63) / 64)
}

/// The shared claim counter; an atomic, so no lock is needed.
final class BlockCounter: Sendable {
    private let value = Atomic<Int>(0)
    func claim() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Writable views of arrays that parallel blocks fill, each block its own slots.
///
/// `@unchecked Sendable` because the compiler cannot see that the writes are disjoint:
/// every stage writes only the indices of the range `parallelFor` handed it, and the
/// arrays outlive the call (the caller holds them in `withUnsafeMutableBufferPointer`).
/// This is the one place in the engine where that promise is made.
public struct DisjointWrites<Element>: @unchecked Sendable {
    public let base: UnsafeMutableBufferPointer<Element>
    public init(_ base: UnsafeMutableBufferPointer<Element>) { self.base = base }
    @inlinable
    public subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}

/// Read-only views for the same parallel stages; `@unchecked Sendable` because the
/// memory is not written by anyone while a stage runs.
public struct SharedReads<Element>: @unchecked Sendable {
    public let base: UnsafeBufferPointer<Element>
    public init(_ base: UnsafeBufferPointer<Element>) { self.base = base }
    @inlinable
    public subscript(i: Int) -> Element { base[i] }
    public var count: Int { base.count }
}
