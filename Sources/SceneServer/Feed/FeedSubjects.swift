/// The NATS subjects of a scene's feed (docs/SCALEOUT.md): what a scene's process publishes
/// each tick and answers, and what a gateway subscribes to and asks.
package enum FeedSubjects {
    /// Request: the scenes a process serves (`FeedScenes`).
    package static let scenes = "twinscene.scenes"

    /// A scene's name as one subject token: kept when it is letters, digits, `-` and `_`,
    /// else `x` and the hex of its UTF-8 (a dot, a space or a wildcard cannot reach a subject).
    package static func token(_ scene: String) -> String {
        let plain = !scene.isEmpty && scene.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
        }
        if plain { return scene }
        return "x" + scene.utf8.map { b in String(b, radix: 16).count == 1 ? "0" + String(b, radix: 16) : String(b, radix: 16) }.joined()
    }

    /// One wire cell's delta blocks, tick after tick (`FeedCell`).
    package static func cell(_ scene: String, column: Int, row: Int) -> String { "scene.\(token(scene)).cell.\(column).\(row)" }
    /// The tick's end: every cell and extra of the tick is out before it (`FeedTick`).
    package static func tick(_ scene: String) -> String { "scene.\(token(scene)).tick" }
    /// The tick's attribute changes and events, coded once (`FeedExtras`).
    package static func extras(_ scene: String) -> String { "scene.\(token(scene)).extras" }
    /// Request: keyframes (and a snapshot, and static geometry) for a gateway's subscribers (`FeedKeyRequest`).
    package static func keys(_ scene: String) -> String { "scene.\(token(scene)).keys" }
    /// A region shard's border for region `region` (`FeedBorder`): handovers and ghosts.
    package static func border(_ scene: String, region: Int) -> String { "scene.\(token(scene)).region.\(region).border" }
    /// A gateway's sessions' Join, Input and Leave, and their drops (`FeedDeskRequest`).
    package static func desk(_ scene: String) -> String { "scene.\(token(scene)).desk" }
    /// Request: a control command (a Control frame; the reply a ControlResult frame).
    package static func control(_ scene: String) -> String { "scene.\(token(scene)).control" }
}
