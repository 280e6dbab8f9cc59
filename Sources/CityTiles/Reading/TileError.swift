/// Why a tile was refused: the file, the CityObject when one is to blame, and the problem.
public struct TileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var object: String?
    public var problem: String

    public init(file: String, object: String? = nil, problem: String) {
        self.file = file
        self.object = object
        self.problem = problem
    }

    public var description: String {
        if let object { return "\(file): CityObject '\(object)': \(problem)" }
        return "\(file): \(problem)"
    }
}
