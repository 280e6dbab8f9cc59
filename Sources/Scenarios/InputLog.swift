import SceneCore

/// What a scene did for its participants, in order: replayed into the same scene and seed it
/// gives the same states (the same state hash at every tick).
///
/// As text (`--input-log`; docs/SCENES.md, "Input logs"), one entry per line:
///
///     twinscene-inputs 1
///     TICK join NUMBER line|wave:W NAME
///     TICK input SLOT treadmill SPEED
///     TICK input SLOT heading RADIANS SPEED
///     TICK input SLOT fix X Y MICROS
///     TICK away SLOT 1|0
///     TICK leave SLOT
///     TICK hash HEX
///
/// An entry at tick T was applied after tick T was computed, before T + 1. Floats are
/// written as Swift prints them (the shortest text that reads back to the same bits); a
/// name is the rest of its line (names hold no control characters). `hash` lines are
/// checkpoints: the state hash at that tick.
public struct InputLog: Sendable, Equatable {
    public enum Op: Sendable, Equatable {
        case join(number: Int, start: ParticipantStart, name: String)
        case input(slot: UInt32, ParticipantInput)
        case away(slot: UInt32, Bool)
        case leave(slot: UInt32)
        case hash(UInt64)
    }
    public struct Entry: Sendable, Equatable {
        public var tick: UInt64
        public var op: Op
    }

    public private(set) var entries: [Entry] = []
    public init() {}

    public mutating func append(tick: UInt64, _ op: Op) { entries.append(Entry(tick: tick, op: op)) }

    /// The lines of the entries so far, which are then forgotten (a server writing its log as
    /// it goes keeps no history in memory).
    public mutating func takeText() -> String {
        let text = entries.map(Self.line).joined()
        entries.removeAll(keepingCapacity: true)
        return text
    }

    /// The whole log as text, header first.
    public var text: String { Self.header + entries.map(Self.line).joined() }

    public static let header = "twinscene-inputs 1\n"

    public static func line(_ e: Entry) -> String {
        let body: String
        switch e.op {
        case .join(let n, .line, let name): body = "join \(n) line \(name)"
        case .join(let n, .wave(let w), let name): body = "join \(n) wave:\(w) \(name)"
        case .input(let slot, .treadmill(let v)): body = "input \(slot) treadmill \(v)"
        case .input(let slot, .heading(let r, let v)): body = "input \(slot) heading \(r) \(v)"
        case .input(let slot, .fix(let x, let y, let t)): body = "input \(slot) fix \(x) \(y) \(t)"
        case .away(let slot, let away): body = "away \(slot) \(away ? 1 : 0)"
        case .leave(let slot): body = "leave \(slot)"
        case .hash(let h): body = "hash \(String(h, radix: 16))"
        }
        return "\(e.tick) \(body)\n"
    }

    /// Reads a log's text; a bad line is named by its number.
    public static func parse(_ text: String) throws(InputLogError) -> InputLog {
        var log = InputLog()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard lines.first.map({ $0 + "\n" == header }) == true else { throw InputLogError(line: 1, problem: "expected the header \"twinscene-inputs 1\"") }
        for (k, raw) in lines.enumerated().dropFirst() {
            let number = k + 1
            func fail(_ why: String) -> InputLogError { InputLogError(line: number, problem: why) }
            let f = raw.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, let tick = UInt64(f[0]) else { throw fail("expected TICK OP ...") }
            let op: Op
            switch f[1] {
            case "join":
                let p = raw.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
                guard p.count == 5, let n = Int(p[2]) else { throw fail("expected TICK join NUMBER START NAME") }
                let start: ParticipantStart
                if p[3] == "line" { start = .line } else if p[3].hasPrefix("wave:"), let w = Int(p[3].dropFirst(5)) { start = .wave(w) } else {
                    throw fail("expected line or wave:W, found \(p[3])")
                }
                op = .join(number: n, start: start, name: p[4])
            case "input":
                let p = raw.split(separator: " ").map(String.init)
                guard p.count >= 4, let slot = UInt32(p[2]) else { throw fail("expected TICK input SLOT MODE ...") }
                func num(_ i: Int) throws(InputLogError) -> Float {
                    guard i < p.count, let v = Float(p[i]) else { throw fail("expected a number in field \(i + 1)") }
                    return v
                }
                switch p[3] {
                case "treadmill" where p.count == 5: op = .input(slot: slot, .treadmill(speed: try num(4)))
                case "heading" where p.count == 6: op = .input(slot: slot, .heading(radians: try num(4), speed: try num(5)))
                case "fix" where p.count == 7:
                    guard let t = UInt64(p[6]) else { throw fail("expected a timestamp in field 7") }
                    op = .input(slot: slot, .fix(x: try num(4), y: try num(5), timeMicros: t))
                default: throw fail("unknown input \(p[3]) or wrong number of fields")
                }
            case "away":
                guard f.count == 4, let slot = UInt32(f[2]), f[3] == "0" || f[3] == "1" else { throw fail("expected TICK away SLOT 0|1") }
                op = .away(slot: slot, f[3] == "1")
            case "leave":
                guard f.count == 3, let slot = UInt32(f[2]) else { throw fail("expected TICK leave SLOT") }
                op = .leave(slot: slot)
            case "hash":
                guard f.count == 3, let h = UInt64(f[2], radix: 16) else { throw fail("expected TICK hash HEX") }
                op = .hash(h)
            default: throw fail("unknown entry \(f[1])")
            }
            if let last = log.entries.last, tick < last.tick { throw fail("tick \(tick) goes back from \(last.tick)") }
            log.append(tick: tick, op)
        }
        return log
    }
}

public struct InputLogError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var problem: String
    public var description: String { "input log line \(line): \(problem)" }
}

extension LoadedScene {
    /// Replays a log into this scene (fresh from its manifest): ticks up to each entry's tick,
    /// applies it, and checks every `hash` entry. Returns the checkpoints compared; throws at
    /// the first one that differs or at an entry the scene refuses.
    @discardableResult
    public func replay(_ log: InputLog, throughTick last: UInt64? = nil) throws -> Int {
        var checked = 0
        func advance(to tick: UInt64) { while world.tick < tick { _ = self.tick() } }
        for e in log.entries {
            advance(to: e.tick)
            func handle(_ slot: UInt32) throws -> EntityHandle {
                guard let h = world.store.handle(slot: Int(slot)) else { throw ReplayMismatch(tick: e.tick, problem: "no entity in slot \(slot)") }
                return h
            }
            switch e.op {
            case .join(let number, let start, let name):
                guard number == roster.joined + 1 else { throw ReplayMismatch(tick: e.tick, problem: "join number \(number) after \(roster.joined)") }
                _ = try join(name: name, start: start)
            case .input(let slot, let input): try self.input(input, to: handle(slot))
            case .away(let slot, let away): setAway(away, try handle(slot))
            case .leave(let slot): leave(try handle(slot))
            case .hash(let expected):
                let h = world.stateHash()
                guard h == expected else {
                    throw ReplayMismatch(tick: e.tick, problem: "state hash \(String(h, radix: 16)), the log says \(String(expected, radix: 16))")
                }
                checked += 1
            }
        }
        if let last { advance(to: last) }
        return checked
    }
}

/// A replay that did not reproduce its log.
public struct ReplayMismatch: Error, CustomStringConvertible {
    public var tick: UInt64
    public var problem: String
    public var description: String { "replay at tick \(tick): \(problem)" }
}
