import Foundation

/// A few threads (or none: the caller's own) that run jobs and hand their results back in
/// the order the jobs were given, so that parallel parsing still inserts rows in file order and reports the
/// first error of the file. Dedicated threads rather than Dispatch's pool: an import
/// must not wait behind whatever else that pool is running.
/// `@unchecked Sendable`: every mutable field is used only with `condition` locked.
final class OrderedWorkers<Output: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [Int: @Sendable () -> Output] = [:]
    private var results: [Int: Output] = [:]
    private var nextJob = 0
    private var submitted = 0
    private var taken = 0
    private var running = 0
    private var closed = false

    /// With no threads, jobs run on the submitting thread as they are given.
    private let inline: Bool

    init(threads: Int) {
        inline = threads == 0
        for _ in 0..<threads {
            let t = Thread { [self] in work() }
            t.stackSize = 4 << 20
            t.start()
        }
    }

    /// Jobs given and not yet taken back.
    var pending: Int {
        condition.lock(); defer { condition.unlock() }
        return submitted - taken
    }

    func submit(_ job: @escaping @Sendable () -> Output) {
        if inline {
            let output = job()
            condition.lock()
            results[submitted] = output
            submitted += 1
            condition.unlock()
            return
        }
        condition.lock()
        jobs[submitted] = job
        submitted += 1
        condition.broadcast()
        condition.unlock()
    }

    /// The result of the oldest job not yet taken back, waiting for it.
    func next() -> Output {
        condition.lock()
        defer { condition.unlock() }
        precondition(taken < submitted, "no job is pending")
        while results[taken] == nil { condition.wait() }
        let r = results.removeValue(forKey: taken)!
        taken += 1
        return r
    }

    /// Drops the jobs not started, waits for the running ones and lets the threads end.
    /// Call it before anything the jobs read goes away.
    func finish() {
        condition.lock()
        closed = true
        jobs.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
        results.removeAll()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs[nextJob] == nil && !closed { condition.wait() }
            guard let job = jobs.removeValue(forKey: nextJob) else {
                condition.unlock()
                return
            }
            let index = nextJob
            nextJob += 1
            running += 1
            condition.unlock()
            let output = job()
            condition.lock()
            running -= 1
            if !closed { results[index] = output }
            condition.broadcast()
            condition.unlock()
        }
    }
}
