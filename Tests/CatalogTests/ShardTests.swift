// Which shard a label belongs to: the same on every machine (pinned to values computed apart, with Python's hashlib),
// whatever the case of the label; and K/N from the command line or a scheduler's environment.
import Catalog
import Testing

struct ShardTests {
    @Test func aLabelsShardIsTheFirst8BytesOfItsSHA256ModuloTheCount() throws {
        // int.from_bytes(hashlib.sha256(label.lower().encode()).digest()[:8], 'big') % n
        let pinned: [(String, [Int: Int])] = [
            ("ben_afflek", [2: 1, 3: 2, 4: 3, 5: 4, 7: 3]), ("madonna", [2: 0, 3: 2, 4: 0, 5: 0, 7: 4]),
            ("elton_john", [2: 0, 3: 1, 4: 2, 5: 3, 7: 5]), ("jerry_seinfeld", [2: 1, 3: 2, 4: 3, 5: 3, 7: 6]),
            ("Ben_Afflek", [2: 1, 3: 2, 4: 3, 5: 4, 7: 3]),
        ]
        for (label, byCount) in pinned {
            for (n, k) in byCount { #expect(Shard.of(label, count: n) == k, "\(label) of \(n)") }
        }
        let shard = try Shard(index: 1, count: 2)
        #expect(shard.owns("ben_afflek") && !shard.owns("madonna"))
        #expect(Shard.of("anyone", count: 1) == 0)
    }

    @Test func theShardComesFromTheOptionOrTheScheduler() throws {
        #expect(try Shard.resolve(nil, count: nil, environment: ["SLURM_ARRAY_TASK_ID": "1"]) == nil)
        #expect(try Shard.resolve("2/5", count: nil, environment: [:]) == Shard(index: 2, count: 5))
        #expect(try Shard.resolve("auto", count: nil, environment: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"]) == Shard(index: 3, count: 4))
        #expect(try Shard.resolve(nil, count: 8, environment: ["JOB_COMPLETION_INDEX": "7"]) == Shard(index: 7, count: 8))
        #expect(try Shard.resolve("auto", count: 6, environment: ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "9"]) == Shard(index: 5, count: 6))
        func message(_ spec: String?, _ count: Int?, _ env: [String: String]) -> String {
            do { _ = try Shard.resolve(spec, count: count, environment: env); return "" } catch { return "\(error)" }
        }
        #expect(message("4/4", nil, [:]).contains("--shard 4/4: the shard index 4 must be between 0 and 3"))
        #expect(message("-1/4", nil, [:]).contains("the shard index -1 must be between 0 and 3"))
        #expect(message("1/3", 4, [:]).contains("--shard 1/3 and --shard-count 4 disagree"))
        #expect(message("auto", nil, ["JOB_COMPLETION_INDEX": "0"]).contains("JOB_COMPLETION_INDEX is set but the number of shards is not"))
        #expect(message("auto", nil, ["SLURM_ARRAY_TASK_ID": "x"]).contains("SLURM_ARRAY_TASK_ID=x is not a whole number"))
        #expect(message("auto", 2, ["JOB_COMPLETION_INDEX": "2"]).contains("JOB_COMPLETION_INDEX=2 with --shard-count 2: the shard index 2"))
    }
}
