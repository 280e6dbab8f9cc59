/// Which columns of a long tracking CSV (one row per object per moment) hold what.
///
/// A preset lists, per field, the header names it accepts (compared without case); a
/// manifest's `columns` names exactly one column per field it maps. x and y (metres, origin
/// at the pitch centre) and a time or a frame are required; the id unless the file is all one
/// object (a ball file).
public struct TrackingColumns: Sendable, Equatable {
    public enum Field: String, CaseIterable, Sendable {
        case time, frame, period, id, x, y, z, team, jersey, role
    }

    /// Accepted header names per field, in order of preference. For `id` every column found
    /// is tried per row and the first non-empty value wins (broadcast data names an object,
    /// else only its track).
    public var names: [Field: [String]]

    public init(names: [Field: [String]]) { self.names = names }

    /// Hawk-Eye exports as shared here (`time_s,track_id,role,x_m,y_m,...`, the ball's file
    /// `time_s,x_m,y_m,z_m`) and long CSVs that use the common names.
    public static let hawkEye = TrackingColumns(names: [
        .time: ["time_s", "time", "t", "timestamp"], .frame: ["frame", "frame_id", "frameid"],
        .period: ["period", "period_id"],
        .id: ["track_id", "id", "player_id", "object_id"], .x: ["x_m", "x"], .y: ["y_m", "y"], .z: ["z_m", "z"],
        .team: ["team"], .jersey: ["jersey", "jersey_number", "shirt"], .role: ["role"],
    ])

    /// The long per-object CSV of broadcast tracking: `frame, period, time, trackable_object,
    /// track_id, x_m, y_m, z_m` at about 10 Hz, with empty values and gaps.
    public static let broadcast = TrackingColumns(names: [
        .frame: ["frame"], .period: ["period"], .time: ["time"], .id: ["trackable_object", "track_id"],
        .x: ["x_m"], .y: ["y_m"], .z: ["z_m"], .team: ["team"], .jersey: ["jersey_number", "jersey"],
    ])

    /// This preset with each field of `mapping` replaced by exactly that column.
    public func mapped(_ mapping: [Field: String]) -> TrackingColumns {
        var out = self
        for (field, column) in mapping { out.names[field] = [column] }
        return out
    }
}
