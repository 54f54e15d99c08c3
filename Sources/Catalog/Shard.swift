// Shards: which people one machine of many works on, by a stable hash of each label, the same on every machine.
import Foundation

/// Shard `index` of `count`: the people whose label hashes to `index` (see `owns`). A shard is worked in a
/// workspace of its own, published with its marker (`ShardMarker`), and brought into one workspace by merge.
public struct Shard: Sendable, Equatable, Codable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// Checked: `count` at least 1 and `index` in 0..<count, else an error naming the values and where they came from.
    public init(index: Int, count: Int, from source: String? = nil) throws {
        let shown = source ?? "--shard \(index)/\(count)"
        guard count >= 1 else { throw ShardError.badCount(shown, count) }
        guard index >= 0, index < count else { throw ShardError.badIndex(shown, index, count) }
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard a label belongs to among `count`: the first 8 bytes of the SHA-256 of the lower-cased label,
    /// big-endian, modulo `count`. It depends on the label alone, never on the order or number of query files.
    public static func of(_ label: String, count: Int) -> Int {
        var hasher = SHA256()
        hasher.update(Array(label.lowercased().utf8))
        let digest = hasher.finalize()
        let prefix = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int(prefix % UInt64(count))
    }

    public func owns(_ label: String) -> Bool { Self.of(label, count: count) == index }

    /// The shard a command was asked for: `--shard K/N`, or `--shard auto` (or `--shard-count N` alone), which
    /// takes K (and N) from what the scheduler set: Slurm's `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`,
    /// or a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` with the count given. Nil when neither was given.
    public static func resolve(_ spec: String?, count: Int?, environment env: [String: String]) throws -> Shard? {
        if let spec, spec != "auto" {
            let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { throw ShardError.badSpec(spec) }
            if let count, count != n { throw ShardError.countDisagrees(spec, count) }
            return try Shard(index: k, count: n)
        }
        guard spec != nil || count != nil else { return nil }
        func number(_ name: String) throws -> Int? {
            guard let text = env[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else { throw ShardError.badVariable(name, text) }
            return value
        }
        if let k = try number("SLURM_ARRAY_TASK_ID") {
            if let count { return try Shard(index: k, count: count, from: "SLURM_ARRAY_TASK_ID=\(k) with --shard-count \(count)") }
            guard let n = try number("SLURM_ARRAY_TASK_COUNT") else { throw ShardError.noCount("SLURM_ARRAY_TASK_ID") }
            return try Shard(index: k, count: n, from: "SLURM_ARRAY_TASK_ID=\(k) with SLURM_ARRAY_TASK_COUNT=\(n)")
        }
        if let k = try number("JOB_COMPLETION_INDEX") {
            guard let count else { throw ShardError.noCount("JOB_COMPLETION_INDEX") }
            return try Shard(index: k, count: count, from: "JOB_COMPLETION_INDEX=\(k) with --shard-count \(count)")
        }
        throw ShardError.noEnvironment
    }
}

public enum ShardError: BadInput {
    case badSpec(String)
    case badCount(String, Int)
    case badIndex(String, Int, Int)
    case countDisagrees(String, Int)
    case badVariable(String, String)
    case noCount(String)
    case noEnvironment
    /// The workspace already holds another shard (its shard, the one asked for).
    case otherShard(String, Shard, Shard)

    public var description: String {
        switch self {
        case .badSpec(let s):
            return "--shard \(s) is not K/N (e.g. --shard 0/8) nor auto."
        case let .badCount(source, n):
            return "\(source): the shard count \(n) must be at least 1."
        case let .badIndex(source, k, n):
            return "\(source): the shard index \(k) must be between 0 and \(n - 1) (shards are numbered from 0 to the count less one; "
                + "for Slurm, submit the array as --array=0-\(n - 1))."
        case let .countDisagrees(spec, n):
            return "--shard \(spec) and --shard-count \(n) disagree on the number of shards."
        case let .badVariable(name, value):
            return "\(name)=\(value) is not a whole number."
        case .noCount(let name):
            return "\(name) is set but the number of shards is not: give --shard-count N."
        case .noEnvironment:
            return "--shard auto needs SLURM_ARRAY_TASK_ID (a Slurm array job) or JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) "
                + "in the environment; outside a scheduler give --shard K/N."
        case let .otherShard(path, has, asked):
            return "workspace \(path) holds shard \(has); shard \(asked) needs a workspace of its own (each shard is its own workspace)."
        }
    }
}
