import Foundation

/// What a tracking source says about an object besides its positions: its team, shirt
/// number and role where the layout carries them (empty and 0 where it does not).
public struct TrackedObject: Equatable, Sendable {
    public var team: String
    public var jersey: UInt32
    public var role: String
    public init(team: String = "", jersey: UInt32 = 0, role: String = "") { self.team = team; self.jersey = jersey; self.role = role }
}

extension MetricaCSV {
    /// Team and shirt numbers from a Metrica file's first two header rows, by the ids
    /// `read` gives (`team_PlayerN`).
    public static func objects(path: String, team: String) -> [String: TrackedObject] {
        guard let data = try? TrackingText.contents(path) else { return [:] }
        let lines = data.split(separator: 0x0A, maxSplits: 3).prefix(3).map {
            String(decoding: $0.last == 0x0D ? $0.dropLast() : $0, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard lines.count == 3 else { return [:] }
        var out: [String: TrackedObject] = [:]
        for (k, name) in lines[2].enumerated() where k >= 3 && !name.isEmpty && name != "Ball" {
            let jersey = k < lines[1].count ? UInt32(lines[1][k]) ?? 0 : 0
            out["\(team)_\(name)"] = TrackedObject(team: team, jersey: jersey)
        }
        return out
    }
}

extension EPTSReader {
    /// Team ids and shirt numbers from the metadata's `<Player>` elements, by the channel
    /// names `read` gives as ids (`player1`, whose `PlayerChannel` names the player).
    public static func objects(metadata path: String) -> [String: TrackedObject] {
        guard let data = try? TrackingText.contents(path) else { return [:] }
        let text = String(decoding: data, as: UTF8.self)
        func attribute(_ name: String, in tag: Substring) -> String? {
            guard let r = tag.range(of: "\(name)=\"") else { return nil }
            return tag[r.upperBound...].split(separator: "\"", maxSplits: 1).first.map(String.init)
        }
        // Players: id, team, shirt number.
        var players: [String: TrackedObject] = [:]
        var scan = text[...]
        while let open = scan.range(of: "<Player ") {
            guard let close = scan.range(of: "</Player>", range: open.upperBound..<scan.endIndex) else { break }
            let body = scan[open.lowerBound..<close.lowerBound]
            if let id = attribute("id", in: body) {
                var jersey: UInt32 = 0
                if let a = body.range(of: "<ShirtNumber>"), let b = body.range(of: "</ShirtNumber>", range: a.upperBound..<body.endIndex) {
                    jersey = UInt32(body[a.upperBound..<b.lowerBound].trimmingCharacters(in: .whitespaces)) ?? 0
                }
                players[id] = TrackedObject(team: attribute("teamId", in: body) ?? "", jersey: jersey)
            }
            scan = scan[close.upperBound...]
        }
        // Channels: `<PlayerChannel id="player1_x" playerId="Track_1"/>`.
        var out: [String: TrackedObject] = [:]
        scan = text[...]
        while let open = scan.range(of: "<PlayerChannel ") {
            let tag = scan[open.upperBound...].prefix { $0 != ">" }
            if let channel = attribute("id", in: tag), channel.hasSuffix("_x"), let player = attribute("playerId", in: tag), let p = players[player] {
                out[String(channel.dropLast(2))] = p
            }
            scan = scan[open.upperBound...]
        }
        return out
    }
}
