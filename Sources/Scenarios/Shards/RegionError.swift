/// Why a scene cannot be split, or a shard's exchange went wrong.
public enum RegionError: Error, Equatable, CustomStringConvertible {
    case tooManyRegions(Int, columns: Int)
    case badBorders([Int], columns: Int)
    case notSplittable(scenario: String)
    case badRegion(Int, of: Int)
    case narrowRegion(Int, metres: Double, reach: Float)
    case unexpectedBorder(from: Int, to: Int, tick: UInt64, expected: UInt64)

    public var description: String {
        switch self {
        case .tooManyRegions(let n, let columns):
            return "cannot split the scene into \(n) regions: it has \(columns) wire-cell columns (1 to \(columns) regions)"
        case .badBorders(let borders, let columns):
            return "region borders \(borders) must ascend strictly between 1 and \(columns - 1) (the scene's wire-cell columns)"
        case .notSplittable(let scenario):
            return "a \(scenario) scene cannot be split into regions (only the marathon and the walkers can today: their entities read neighbours within a known reach; a match or a factory floor is one small scene-wide whole)"
        case .badRegion(let k, let n):
            return "region \(k) of \(n) does not exist (regions are 0 to \(n - 1))"
        case .narrowRegion(let k, let metres, let reach):
            return "region \(k) is \(metres) m wide, less than the scene's reach of \(reach) m: its neighbours could not see each other's entities"
        case .unexpectedBorder(let from, let to, let tick, let expected):
            return "region \(to) got region \(from)'s border of tick \(tick), expecting tick \(expected)"
        }
    }
}
