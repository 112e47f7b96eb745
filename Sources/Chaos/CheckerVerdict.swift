/// What one checker concluded, for the report and the exit code.
public struct CheckerVerdict: Codable, Equatable, Sendable {
    public static let detailsMax = 20

    public enum Result: String, Codable, Sendable {
        case pass
        case fail
        /// The checker could not decide (a search exceeded its budget, no survivors).
        case inconclusive
    }

    /// The checker's name, e.g. "LostAckChecker".
    public var checker: String
    public var result: Result
    /// One sentence.
    public var summary: String
    /// The ids involved (operations "op 17", tasks "t-42", nodes "n2"), at most `detailsMax`.
    public var offending: [String]
    /// One line per finding, at most `detailsMax`.
    public var details: [String]

    public init(checker: String, result: Result, summary: String, offending: [String] = [], details: [String] = []) {
        self.checker = checker
        self.result = result
        self.summary = summary
        var seen = Set<String>()
        self.offending = Array(offending.filter { seen.insert($0).inserted }.prefix(Self.detailsMax))
        self.details = Array(details.prefix(Self.detailsMax))
    }

    public var passed: Bool { result == .pass }
}
