import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who holds a catalog's write lock, for the error an operator reads when an import waited
/// for it in vain.
///
/// SQLite locks with POSIX advisory locks, which the kernel reports with their owner's pid
/// (`F_GETLK`): in WAL mode the writer holds byte 120 of the `-shm` file (`WAL_WRITE_LOCK`)
/// and a checkpoint byte 121; in rollback mode the lock bytes sit at 1 GiB in the database
/// file itself (pending, reserved, then the shared range).
enum CatalogLock {
    /// "process 1234 (twinscene tiles import big.city.jsonl)", or nil when no other process
    /// holds a conflicting lock (another connection of this process, say).
    static func holder(of path: String) -> String? {
        let probes: [(file: String, start: Int, length: Int)] = [
            (path + "-shm", 120, 2),
            (path, 0x4000_0000, 512),
        ]
        for probe in probes {
            if let pid = lockOwner(file: probe.file, start: probe.start, length: probe.length) { return describe(pid: pid) }
        }
        return nil
    }

    /// The pid of a process whose lock would conflict with an exclusive lock on the range.
    static func lockOwner(file: String, start: Int, length: Int) -> pid_t? {
        #if canImport(Glibc)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(start)
        lock.l_len = off_t(length)
        guard fcntl(fd, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK), lock.l_pid > 0 else { return nil }
        return lock.l_pid
        #else
        return nil
        #endif
    }

    /// The pid and its command line (from /proc, cut to 120 characters, control characters
    /// shown as spaces).
    static func describe(pid: pid_t) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return "process \(pid)" }
        var text = String(decoding: data.map { $0 < 0x20 ? 0x20 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        if text.count > 120 { text = String(text.prefix(120)) + "..." }
        return "process \(pid) (\(text))"
    }
}
