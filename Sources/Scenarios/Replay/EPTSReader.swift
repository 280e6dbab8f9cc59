import Foundation

/// Reads FIFA EPTS tracking: the XML metadata says the frame rate, the pitch size and the
/// layout of a line (`frame:` then per player `x,y,id,speed` separated by `;`, then `:` and
/// the ball's `x,y,...`); the text file has one line per frame, values normalised 0..1.
public enum EPTSReader {
    public struct Layout: Sendable, Equatable {
        public var frameRate: Double
        public var pitch: SIMD2<Double>
        public var players: [String]
        public var hasBall: Bool
        /// The periods' first and last frames, from the provider's parameters
        /// (`first_half_start` ... `second_extra_half_end`); empty when it gives none.
        public var periods: [Period] = []

        /// A period and its frames.
        public struct Period: Sendable, Equatable {
            public var period: Int
            public var frames: ClosedRange<Int>
        }

        /// The period holding a frame, nil outside every stated period or without any.
        func period(of frame: Int) -> Int? { periods.first { $0.frames.contains(frame) }?.period }
    }

    /// The layout from the metadata (read by scanning the elements it needs).
    public static func layout(metadata path: String) throws -> Layout {
        let text = String(decoding: try TrackingText.contents(path), as: UTF8.self)
        func element(_ name: String, after: String? = nil) -> String? {
            var scope = text[...]
            if let after, let r = text.range(of: after) { scope = text[r.upperBound...] }
            guard let open = scope.range(of: "<\(name)>"), let close = scope.range(of: "</\(name)>", range: open.upperBound..<scope.endIndex) else { return nil }
            return String(scope[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let rate = element("FrameRate").flatMap(Double.init), rate > 0 else {
            throw TrackingError(file: path, line: 0, problem: "no <FrameRate> in the metadata")
        }
        let width = element("Width", after: "<FieldSize>").flatMap(Double.init) ?? 105
        let height = element("Height", after: "<FieldSize>").flatMap(Double.init) ?? 68
        guard let spec = text.range(of: "<DataFormatSpecification") else {
            throw TrackingError(file: path, line: 0, problem: "no <DataFormatSpecification> in the metadata")
        }
        var players: [String] = []
        var scan = text[spec.upperBound...]
        while let r = scan.range(of: "playerChannelId=\"") {
            let rest = scan[r.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { break }
            let channel = String(rest[..<end])
            if channel.hasSuffix("_x") { players.append(String(channel.dropLast(2))) }
            scan = rest[end...]
        }
        guard !players.isEmpty else { throw TrackingError(file: path, line: 0, problem: "no player channels in the data format specification") }
        var layout = Layout(frameRate: rate, pitch: SIMD2(width, height), players: players, hasBall: text.contains("BallChannelRef"))
        // <ProviderParameter><Name>first_half_start</Name><Value>450</Value></ProviderParameter>
        func parameter(_ name: String) -> Int? {
            guard let r = text.range(of: "<Name>\(name)</Name>") else { return nil }
            let rest = text[r.upperBound...]
            guard let open = rest.range(of: "<Value>"), let close = rest.range(of: "</Value>"), open.upperBound <= close.lowerBound,
                  rest[..<open.lowerBound].range(of: "<Name>") == nil else { return nil }
            return Int(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
        }
        for (k, name) in ["first_half", "second_half", "first_extra_half", "second_extra_half"].enumerated() {
            if let a = parameter(name + "_start"), let b = parameter(name + "_end"), a <= b { layout.periods.append(Layout.Period(period: k + 1, frames: a...b)) }
        }
        return layout
    }

    public static func read(tracking path: String, metadata: String) throws -> [TrackingSample] {
        let layout = try layout(metadata: metadata)
        let data = try TrackingText.contents(path)
        var out: [TrackingSample] = []
        var lastFrame = Int.min
        let rows = data.split(separator: 0x0A).filter { !$0.allSatisfy { $0 == 0x0D || $0 == 0x20 } }
        guard !rows.isEmpty else { throw TrackingError(file: path, line: 1, problem: "no frames: the file holds no samples") }
        for (k, raw) in data.split(separator: 0x0A).enumerated() {
            let line = String(decoding: raw.last == 0x0D ? raw.dropLast() : raw, as: UTF8.self)
            let parts = line.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2, let frame = Int(parts[0]) else {
                throw TrackingError(file: path, line: k + 1, problem: "expected frame:players[:ball]")
            }
            guard frame > lastFrame else { throw TrackingError(file: path, line: k + 1, problem: "frame \(frame) after \(lastFrame): frames go backwards") }
            lastFrame = frame
            let time = Double(frame) / layout.frameRate
            let period = layout.period(of: frame)
            let players = parts[1].split(separator: ";", omittingEmptySubsequences: false)
            guard players.count == layout.players.count else {
                throw TrackingError(file: path, line: k + 1, problem: "\(players.count) players, the metadata describes \(layout.players.count)")
            }
            func point(_ xs: Substring, _ ys: Substring, _ who: String) throws -> (Double, Double)? {
                if xs == "NaN" || ys == "NaN" || xs.isEmpty || ys.isEmpty { return nil }
                guard let x = Double(xs), let y = Double(ys) else {
                    throw TrackingError(file: path, line: k + 1, problem: "\(who): \"\(xs)\", \"\(ys)\" are not numbers")
                }
                return ((x - 0.5) * layout.pitch.x, (0.5 - y) * layout.pitch.y)
            }
            for (p, values) in players.enumerated() {
                let v = values.split(separator: ",", omittingEmptySubsequences: false)
                guard v.count >= 2 else { throw TrackingError(file: path, line: k + 1, problem: "\(layout.players[p]): expected x,y,...") }
                if let (x, y) = try point(v[0], v[1], layout.players[p]) {
                    out.append(TrackingSample(frame: frame, time: time, id: layout.players[p], x: x, y: y, z: nil, period: period))
                }
            }
            if layout.hasBall, parts.count >= 3 {
                let v = parts[2].split(separator: ",", omittingEmptySubsequences: false)
                if v.count >= 2, let (x, y) = try point(v[0], v[1], "ball") {
                    out.append(TrackingSample(frame: frame, time: time, id: "ball", x: x, y: y, z: nil, period: period))
                }
            }
        }
        return out
    }
}
