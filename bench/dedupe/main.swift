// Benchmark: near-duplicate search over N pHashes with the multi-index Hamming index, against all pairs.
// Usage: swift run -c release curate-bench-dedupe [N=100000]
import Curate
import Foundation

let n = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 100_000 : 100_000
var rng = SystemRandomNumberGenerator()
var hashes: [UInt64] = []
hashes.reserveCapacity(n)
// 90% distinct images, 10% near copies (1 to 6 bits flipped) of earlier ones.
while hashes.count < n {
    if hashes.count > 10, Int.random(in: 0..<10, using: &rng) == 0 {
        var copy = hashes[Int.random(in: 0..<hashes.count, using: &rng)]
        for _ in 0..<Int.random(in: 1...6, using: &rng) { copy ^= 1 << UInt64.random(in: 0..<64, using: &rng) }
        hashes.append(copy)
    } else {
        hashes.append(UInt64.random(in: 0...UInt64.max, using: &rng))
    }
}

func seconds(_ body: () -> Void) -> Double {
    let t = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
}

var pairs = 0
let indexed = seconds {
    var index = HammingIndex(radius: 6)
    for h in hashes { index.insert(h) }
    pairs = index.pairs().count
}
// All pairs on a sample, scaled: the quadratic way the index avoids.
let sample = min(n, 10_000)
var brute = 0
let bruteSample = seconds {
    for i in 0..<sample { for j in (i + 1)..<sample where (hashes[i] ^ hashes[j]).nonzeroBitCount <= 6 { brute += 1 } }
}
let bruteAll = bruteSample * pow(Double(n) / Double(sample), 2)
print("dedupe benchmark: \(n) pHashes (10% near copies), radius 6")
print(String(format: "multi-index hashing: %.2f s, %d pairs", indexed, pairs))
print(String(format: "all pairs: %.2f s measured on %d, about %.0f s for %d", bruteSample, sample, bruteAll, n))
