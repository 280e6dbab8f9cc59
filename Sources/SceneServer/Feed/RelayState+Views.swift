import NIOCore
import SceneWire

/// A version 3 subscriber's view on a gateway: the entities in the cells it holds, the
/// generation of each slot whose identity it was sent, and each viewed entity's kind. A
/// class: a view is changed in place each tick, never copied.
final class RelayView {
    var inView = Set<UInt32>()
    var told: [UInt32: UInt32] = [:]
    var kind: [UInt32: UInt8] = [:]
}

/// Version 3 through a gateway, as `RunnerState`'s cell views make it in the scene's own
/// process: the feed carries with each cell's block who left the cell and who came into it
/// (with identity and values), and a key reply the members of each cell it answers for, so
/// the relay follows each cell's members and each subscriber's view without decoding a block.
extension RelayState {
    /// The tick's comings and goings applied to the cells whose members are known, and who
    /// came in, by slot (before any subscriber's frame of the tick).
    func followMembers() {
        tickEntrants.removeAll(keepingCapacity: true)
        let views = subscriptions.contains(where: { $0.version >= 2 })
        guard views || !members.isEmpty else { return }
        for (c, cell) in tickCells {
            if views { for e in cell.entrants { tickEntrants[e.slot] = e } }
            guard members[c] != nil else { continue }
            for id in cell.left { members[c]!.remove(id) }
            for e in cell.entrants { members[c]!.insert(e.slot) }
        }
    }

    /// The members of the cells a key reply answered for (an empty cell has no keyframe),
    /// and who they are.
    func learnMembers(_ cells: Set<Int>, from answer: RelayAnswer) {
        for c in cells where cellInterest[c] != nil {
            let list = answer.keyframes[c]?.members ?? []
            members[c] = Set(list.map(\.slot))
            for e in list where tickEntrants[e.slot] == nil { tickEntrants[e.slot] = e }
        }
    }

    /// The subscriber's view after this frame, which leaves it with `cells`: rebuilt from the
    /// cells' members after a resync or when its cells change, else followed through the
    /// cells' comings and goings. Sends the identities it was not yet sent (before the
    /// frame) and returns who entered the view, ascending; nil when a cell's members or an
    /// entrant are unknown (the subscriber then resyncs).
    func updateView(_ s: Subscription, cells: Set<Int>, resync: Bool) -> [UInt32]? {
        let key = ObjectIdentifier(s)
        let view = views[key] ?? RelayView()
        var entered: [UInt32] = []
        if resync || cells != s.sentCells {
            var now = Set<UInt32>()
            for c in cells {
                guard let m = members[c] else { return nil }
                now.formUnion(m)
            }
            if resync {
                entered = Array(now)
            } else {
                entered = now.filter { !view.inView.contains($0) }
                // A slot whose entity is new this tick holds someone else now.
                for c in cells where s.sentCells.contains(c) {
                    for e in tickCells[c]?.entrants ?? [] where e.new && view.inView.contains(e.slot) && now.contains(e.slot) { entered.append(e.slot) }
                }
            }
            view.inView = now
        } else {
            var removed = Set<UInt32>()
            for c in cells { for id in tickCells[c]?.left ?? [] where view.inView.remove(id) != nil { removed.insert(id) } }
            for c in cells {
                for e in tickCells[c]?.entrants ?? [] {
                    // Moving from one held cell to another is not entering the view.
                    if view.inView.insert(e.slot).inserted ? !removed.contains(e.slot) || e.new : e.new { entered.append(e.slot) }
                }
            }
        }
        entered = Array(Set(entered)).sorted()
        var identities: [WireEntityInfo] = []
        for id in entered {
            guard let e = tickEntrants[id] else { return nil }
            view.kind[id] = e.kind
            if let identity = e.identity, view.told[id] != e.generation { identities.append(identity) }
            view.told[id] = e.generation
        }
        views[key] = view
        for part in RunnerState.parts(identities, of: identitiesPerMessage) {
            send(WireMessage.entityInfo(subscription: s.id, entities: part).frame(), to: s)
        }
        return entered
    }

    var identitiesPerMessage: Int { max(1, (runner.maxFrameBytes - 32) / RunnerState.entityInfoEntryBytes) }
    var attributesPerMessage: Int { max(1, (runner.maxFrameBytes - 32) / 10) }
    var eventsPerMessage: Int { max(1, (runner.maxFrameBytes - 32) / 11) }

    /// After the frame: the values of those who entered the view and the changes of the
    /// others in it (a snapshot after a resync, even empty, in a scene with attributes);
    /// the events of entities in view and the scene-wide ones.
    func sendViewExtras(_ s: Subscription, entered: [UInt32], resync: Bool, advanced: Bool, tick: UInt64) {
        guard let view = views[ObjectIdentifier(s)] else { return }
        sendExtras(s, inView: view.inView, entering: entered.flatMap { tickEntrants[$0]?.values ?? [] }, entered: entered,
                   kind: { view.kind[$0] }, resync: resync, advanced: advanced, tick: tick)
    }

    /// What a view lets through after a frame, as `RunnerState` sends it: the values of those
    /// who entered (`entering`) and the tick's changes of the others in view, sorted, without
    /// the heights that ride in the blocks (a snapshot after a resync, even empty, in a scene
    /// with attributes); the events of entities in view and the scene-wide ones.
    func sendExtras(_ s: Subscription, inView: Set<UInt32>, entering: [WireAttribute], entered: [UInt32], kind: (UInt32) -> UInt8?,
                    resync: Bool, advanced: Bool, tick: UInt64) {
        var values = entering
        let extras = tickExtras()
        if !resync && advanced {
            let fresh = Set(entered)
            for v in extras.changes where inView.contains(v.entity) && !fresh.contains(v.entity) { values.append(v) }
        }
        values.sort { ($0.entity, $0.attribute) < ($1.entity, $1.attribute) }
        if !heightAttribute.isEmpty {
            values.removeAll { v in kind(v.entity).flatMap { heightAttribute[$0] } == v.attribute }
        }
        if resync && hasAttributes || !values.isEmpty {
            let parts = RunnerState.parts(values, of: attributesPerMessage)
            for (k, part) in (parts.isEmpty ? [[]] : parts).enumerated() {
                send(WireMessage.attributes(subscription: s.id, tick: tick, snapshot: resync && k == 0, values: part).frame(), to: s)
            }
        }
        guard advanced else { return }
        let wide = runner.sceneWideEvents
        let mine = extras.events.filter { wide.contains($0.kind) || inView.contains($0.entity) }
        for part in RunnerState.parts(mine, of: eventsPerMessage) { send(WireMessage.events(subscription: s.id, tick: tick, events: part).frame(), to: s) }
    }

    /// The tick's attribute changes and events as values (decoded once a tick from the
    /// frames the feed carries for version 1).
    func tickExtras() -> (changes: [WireAttribute], events: [WireEvent]) {
        if let v = tickValues { return v }
        var changes: [WireAttribute] = [], events: [WireEvent] = []
        for f in tickChanges + tickEvents {
            switch try? FeedWire.message(f.frame(subscription: 0), maxFrameBytes: runner.maxFrameBytes + 64) {
            case .attributes(_, _, _, let values)?: changes += values
            case .events(_, _, let list)?: events += list
            default: broken = broken ?? "an extras frame that does not decode"
            }
        }
        tickValues = (changes, events)
        return (changes, events)
    }
}
