import SceneCore

/// One tick's ranking of the entities of a world or of a region of it (`Scenario.ranking`).
public struct SceneRanking: Sendable, Equatable {
    public var kind: SceneEvent.Kind
    public var size: Int
    public var entries: [RankEntry]
    public init(kind: SceneEvent.Kind, size: Int, entries: [RankEntry]) { self.kind = kind; self.size = size; self.entries = entries }

    /// The best `size` of several regions' entries, in rank order.
    public static func merge(_ lists: [[RankEntry]], size: Int) -> [RankEntry] {
        Array(lists.joined().sorted(by: RankEntry.before).prefix(size))
    }
}

public struct RankEntry: Sendable, Equatable {
    public var score: Float
    public var slot: UInt32
    public init(score: Float, slot: UInt32) { self.score = score; self.slot = slot }
    /// Rank order: higher scores first, ties to the lower slot.
    public static func before(_ a: RankEntry, _ b: RankEntry) -> Bool { a.score > b.score || (a.score == b.score && a.slot < b.slot) }
}
