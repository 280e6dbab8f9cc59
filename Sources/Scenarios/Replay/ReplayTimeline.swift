import Foundation

/// A replay's source frames on one grid, the stretches that are played, and what the scene
/// shows at any tick rate, in real time.
///
/// The source rate comes from the data: frame numbers and times together, else times alone
/// (the median step; a rate within 0.5% of a whole number of hertz is taken as that number,
/// since timestamps jitter), else the metadata or the manifest for files of frame numbers
/// alone. Tick T shows source position T × rate / tickRate: when that falls on a frame
/// (50 Hz at 25 Hz: every other frame) positions, presence and heights are exactly that
/// frame's; between frames they are interpolated (or held, as the manifest says). An object
/// is present while it is in the frame at or before the position, so the last sample before
/// a gap shows for its frame's time and a re-entry shows from its first frame.
public struct ReplayTimeline: Sendable {
    /// Between two source frames: positions interpolated, or the earlier frame's held.
    public enum Resampling: String, CaseIterable, Sendable { case interpolate, hold }
    /// Between periods: the break left out, or shown as a pause (the period's last frame held).
    public enum HalfTime: String, CaseIterable, Sendable { case skip, pause }

    /// A stretch of play: one period's frames (or all of them when the source names none).
    public struct Segment: Sendable, Equatable {
        public var period: Int?
        /// Source frame indices (relative to the first frame of the data), both included.
        public var first: Int
        public var last: Int
        /// Playback position of `first`, in source frames from the start of the replay.
        public var start: Int
        /// The source time of `first`: the period's start as far as the data shows.
        public var startTime: Double
    }

    /// Source frames per second.
    public let rate: Double
    /// Where the rate came from, for the log and `scenes validate`.
    public let rateSource: String
    public let resampling: Resampling
    public let halfTime: HalfTime
    public let tickRate: Int
    public let segments: [Segment]
    /// Ticks in one pass of the replay; it starts over after them.
    public let loopTicks: Int
    /// Samples by source frame index, each frame's in a stable object order.
    let frames: [Int: [TrackingSample]]
    /// Source time of each frame index that holds samples.
    let times: [Int: Double]

    /// Match clock at a period's start, seconds: the second half starts at 45:00, extra time
    /// at 90:00 and 105:00, a shoot-out at 120:00.
    public static func periodStart(_ period: Int?) -> Double {
        switch period ?? 1 {
        case ...1: 0
        case 2: 2700
        case 3: 5400
        case 4: 6300
        default: 7200
        }
    }

    /// - Parameters:
    ///   - files: each file's samples (a rate is inferred per file; they must agree).
    ///   - stated: a rate the source states (EPTS metadata), or the manifest's for files of
    ///     frame numbers alone, with where it comes from.
    public init(files: [[TrackingSample]], stated: (rate: Double, from: String)?, tickRate: Int,
                resampling: Resampling, halfTime: HalfTime, file: String) throws {
        let all = files.flatMap { $0 }
        guard !all.isEmpty else { throw TrackingError(file: file, line: 0, problem: "the tracking data holds no samples") }
        self.tickRate = tickRate
        self.resampling = resampling
        self.halfTime = halfTime
        // The grid: frame numbers when every sample has one, else times.
        let byFrame = all.allSatisfy { $0.frame != nil }
        guard byFrame || all.allSatisfy({ $0.time != nil }) else {
            throw TrackingError(file: file, line: 0, problem: "some samples have a frame number but no time and others a time but no frame number: the frames cannot be put on one clock")
        }
        var inferred: [(Double, String)] = []
        for samples in files where !samples.isEmpty {
            if let r = Self.inferRate(samples) { inferred.append(r) }
        }
        if let stated {
            if let (r, how) = inferred.first, abs(r - stated.rate) > 0.01 * stated.rate {
                throw TrackingError(file: file, line: 0, problem: "the data's \(how) give \(Self.hertz(r)) but \(stated.from) says \(Self.hertz(stated.rate))")
            }
            (rate, rateSource) = (stated.rate, stated.from)
        } else if let (r, how) = inferred.first {
            for (other, _) in inferred.dropFirst() where abs(other - r) > 0.005 * r {
                throw TrackingError(file: file, line: 0, problem: "the files disagree on their rate: \(Self.hertz(r)) and \(Self.hertz(other))")
            }
            (rate, rateSource) = (r, how)
        } else {
            throw TrackingError(file: file, line: 0, problem: "the data has frame numbers but no times, so its rate is unknown: state it with \"rate\" in $.replay")
        }
        guard rate > 0, rate.isFinite, rate <= 10_000 else { throw TrackingError(file: file, line: 0, problem: "a source rate of \(rate) Hz cannot be replayed") }
        // Every sample on the grid.
        let firstFrame = byFrame ? all.lazy.map { $0.frame! }.min()! : 0
        let firstTime = all.lazy.compactMap(\.time).min() ?? 0
        let sourceRate = rate
        let gridIndex = { (s: TrackingSample) -> Int in byFrame ? s.frame! - firstFrame : Int(((s.time! - firstTime) * sourceRate).rounded()) }
        // A period whose frame numbers (or times) start over is placed right after the one
        // before it (its break's length is then unknown, so even a pause shows none).
        var span: [Int?: ClosedRange<Int>] = [:]
        var periodOrder: [Int?] = []
        for s in all {
            let k = gridIndex(s)
            if let r = span[s.period] { span[s.period] = min(r.lowerBound, k)...max(r.upperBound, k) } else { span[s.period] = k...k; periodOrder.append(s.period) }
        }
        var shift: [Int?: Int] = [:]
        var end = Int.min
        for p in periodOrder.sorted(by: { ($0 ?? 0) < ($1 ?? 0) }) {
            let r = span[p]!
            let d = end != Int.min && r.lowerBound <= end ? end + 1 - r.lowerBound : 0
            shift[p] = d
            end = r.upperBound + d
        }
        var frames: [Int: [TrackingSample]] = [:]
        var times: [Int: Double] = [:]
        var order: [String: Int] = [:]
        for s in all {
            let index = gridIndex(s) + shift[s.period]!
            if order[s.id] == nil { order[s.id] = order.count }
            frames[index, default: []].append(s)
            if times[index] == nil { times[index] = s.time ?? Double(index) / rate + (byFrame ? Double(firstFrame) / rate : firstTime) }
        }
        // One sample per object and frame (jittered times may put two on one frame: the later
        // one stands), in first-appearance order.
        for (k, list) in frames {
            var seen: [String: Int] = [:]
            var kept: [TrackingSample] = []
            for s in list {
                if let at = seen[s.id] { kept[at] = s } else { seen[s.id] = kept.count; kept.append(s) }
            }
            frames[k] = kept.sorted { order[$0.id]! < order[$1.id]! }
        }
        self.frames = frames
        self.times = times
        // Stretches of play: runs of frames of one period.
        let indices = frames.keys.sorted()
        var segments: [Segment] = []
        for k in indices {
            let period = frames[k]!.first?.period
            if var last = segments.last, last.period == period {
                last.last = k
                segments[segments.count - 1] = last
            } else {
                segments.append(Segment(period: period, first: k, last: k, start: 0, startTime: times[k]!))
            }
        }
        var position = 0
        for i in segments.indices {
            switch halfTime {
            case .skip: segments[i].start = position
            case .pause: segments[i].start = segments[i].first - segments[0].first
            }
            position = segments[i].start + segments[i].last - segments[i].first + 1
        }
        self.segments = segments
        // Ticks that stay within the replay's length in source frames.
        loopTicks = max(1, Int((Double(position) * Double(tickRate) / rate).rounded(.up)))
    }

    /// Where tick T falls: a segment, a frame index in it and how far towards the next.
    func place(_ tick: UInt64) -> (segment: Segment, frame: Int, fraction: Double) {
        let local = Double(tick % UInt64(loopTicks))
        let p = local * rate / Double(tickRate)
        let segment = segments.last(where: { Double($0.start) <= p + 1e-9 }) ?? segments[0]
        let offset = p - Double(segment.start)
        // In a pause between periods: the period's last frame, held.
        if offset > Double(segment.last - segment.first) { return (segment, segment.last, 0) }
        let whole = (offset + 1e-9).rounded(.down)
        let fraction = offset - whole
        return (segment, segment.first + Int(whole), fraction < 1e-9 ? 0 : fraction)
    }

    /// What the scene shows at tick T: the objects of the frame at or before its position,
    /// moved towards the next frame's when interpolating and the object is in both.
    public func samples(at tick: UInt64) -> [TrackingSample] {
        let (segment, k, fraction) = place(tick)
        let base = frames[k] ?? []
        guard resampling == .interpolate, fraction > 0, k + 1 <= segment.last, let next = frames[k + 1] else { return base }
        var ahead: [String: TrackingSample] = [:]
        for s in next { ahead[s.id] = s }
        return base.map { s in
            guard let n = ahead[s.id] else { return s }
            var o = s
            o.x += (n.x - s.x) * fraction
            o.y += (n.y - s.y) * fraction
            if let z0 = s.z, let z1 = n.z { o.z = z0 + (z1 - z0) * fraction }
            return o
        }
    }

    /// The period and match clock (seconds) the source shows at tick T.
    public func clock(at tick: UInt64) -> (period: Int?, seconds: Double) {
        let (segment, k, fraction) = place(tick)
        let t = (times[k] ?? segment.startTime) + fraction / rate
        return (segment.period, Self.periodStart(segment.period) + max(0, t - segment.startTime))
    }

    /// The source frame index tick T shows when it falls on a frame, nil between frames.
    public func frameIndex(at tick: UInt64) -> Int? {
        let (_, k, fraction) = place(tick)
        return fraction == 0 ? k : nil
    }

    /// Whether tick T is the first of a stretch of play (a period's kick-off in the replay).
    public func startsSegment(_ tick: UInt64) -> Bool {
        let local = tick % UInt64(loopTicks)
        guard local > 0 else { return true }
        return place(tick).segment != place(tick - 1).segment
    }

    /// One line on how the source is played.
    public var summary: String {
        let ratio = rate / Double(tickRate)
        let how: String
        if abs(ratio - ratio.rounded()) < 1e-9 && ratio >= 1 {
            how = ratio == 1 ? "frame by frame" : ratio == 2 ? "every other frame (frame-true)" : "one frame in \(Int(ratio)) (frame-true)"
        } else {
            how = resampling == .interpolate ? "interpolated between frames" : "each frame held until the next"
        }
        let periods = Set(segments.compactMap(\.period)).count
        let breaks = periods > 1 ? (halfTime == .skip ? ", breaks between periods skipped" : ", breaks between periods shown as a pause") : ""
        return "source at \(Self.hertz(rate)) (from \(rateSource)) played at \(tickRate) Hz in real time: \(how)\(breaks)"
    }

    static func hertz(_ r: Double) -> String {
        r == r.rounded() ? "\(Int(r)) Hz" : String(format: "%.3f Hz", r)
    }

    /// The rate of one file's samples: frame numbers against times where it has both, else
    /// the median step between distinct times; nil for frame numbers alone.
    static func inferRate(_ samples: [TrackingSample]) -> (Double, String)? {
        var steps: [Double] = []
        let how: String
        if samples.allSatisfy({ $0.frame != nil && $0.time != nil }) {
            var timeOf: [Int: Double] = [:]
            for s in samples where timeOf[s.frame!] == nil { timeOf[s.frame!] = s.time! }
            let frames = timeOf.keys.sorted()
            for (a, b) in zip(frames, frames.dropFirst()) {
                let dt = timeOf[b]! - timeOf[a]!
                if dt > 0 { steps.append(dt / Double(b - a)) }
            }
            how = "frame numbers and times"
        } else if samples.allSatisfy({ $0.time != nil }) {
            let times = Set(samples.map { $0.time! }).sorted()
            for (a, b) in zip(times, times.dropFirst()) where b - a > 1e-6 { steps.append(b - a) }
            how = "times"
        } else {
            return nil
        }
        guard !steps.isEmpty else { return nil }
        steps.sort()
        var r = 1 / steps[steps.count / 2]
        if abs(r - r.rounded()) <= 0.005 * r { r = r.rounded() }
        return (r, how)
    }
}
