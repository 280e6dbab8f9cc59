import SceneCore

/// Who an entity is, for clients (protocol version 2's EntityInfo): a stable key, a label
/// to show, a group (team, wave, production line) and a number (bib, jersey; 0 for none).
/// The wire cuts each text to 64 bytes of UTF-8.
public struct EntityIdentity: Equatable, Sendable {
    public var key: String
    public var label: String
    public var group: String
    public var number: UInt32

    public init(key: String, label: String, group: String = "", number: UInt32 = 0) {
        self.key = key; self.label = label; self.group = group; self.number = number
    }

    /// What a scenario without its own identities says: the entity's key (or its kind and
    /// slot), labelled by its kind.
    public static func plain(slot: UInt32, in world: World, kinds: [EntityKind]) -> EntityIdentity? {
        guard let d = world.store.dense(ofSlot: Int(slot)) else { return nil }
        let kind = world.store.kind[d]
        let name = kinds.first { $0.code == kind }?.name ?? "entity"
        let key = world.key(ofSlot: Int(slot)) ?? "\(name)-\(slot)"
        return EntityIdentity(key: key, label: key, group: name)
    }
}

/// Made-up but stable runner names: the same bib always gives the same name.
enum RunnerNames {
    static let first = ["Anna", "Bram", "Chloé", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jonas", "Kiki", "Lars",
                        "Mila", "Noah", "Olga", "Pieter", "Quinn", "Roos", "Sem", "Tess", "Umar", "Vera", "Wim", "Yara", "Zoë"]
    static let last = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Vos",
                       "Peters", "Hendriks", "Dekker", "Brouwer", "Dijkstra", "Kok", "Verhoeven", "Koster", "Prins", "Huisman"]

    static func name(bib: UInt32) -> String {
        // A fixed mix of the bib (not the scene's random stream, which identities must not touch).
        var h = UInt64(bib) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return "\(first[Int(h % UInt64(first.count))]) \(last[Int((h / 31) % UInt64(last.count))])"
    }
}
