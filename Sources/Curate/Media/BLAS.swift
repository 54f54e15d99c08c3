// The BLAS that dlib's ResNet (and libtorch) run on, and the OpenBLAS kernels chosen for this CPU.
import CFaceBridge
import Foundation

/// The BLAS library dlib's ResNet runs on in this process (Debian's libblas.so.3 alternative): OpenBLAS, or the
/// reference BLAS, which works but makes face descriptors several times slower.
public struct BLAS: Sendable, Equatable {
    /// OpenBLAS's build configuration (e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell MAX_THREADS=64"), or "reference BLAS".
    public var name: String
    /// The shared library that provides the matrix products, symbolic links resolved.
    public var library: String
    public var isOpenBLAS: Bool
    public var threads: Int
    /// OpenBLAS's kernels in this process ("Prescott", "Haswell", "SkylakeX", ...); empty on another BLAS.
    public var core: String
    /// Who chose `core`.
    public var choice: BLASCoreChoice

    public static var current: BLAS {
        var info = curate_blas_info()
        curate_faces_blas(&info)
        return BLAS(name: Bridge.string(info.name), library: Bridge.string(info.library), isOpenBLAS: info.openblas != 0,
                    threads: Int(info.threads), core: BLASCore.loaded, choice: BLASCore.choice)
    }

    /// One OpenBLAS thread for the whole process, and the threads OpenBLAS started when it loaded (one a core, each
    /// spinning for about 0.1 s of CPU before it sleeps) stopped; false on the reference BLAS. Each processing worker
    /// runs its own network, so curate never needs more.
    @discardableResult
    public static func useOneThread() -> Bool { curate_blas_one_thread() != 0 }

    /// Sets OpenBLAS's threads for the whole process; false (nothing to set) on the reference BLAS.
    @discardableResult
    public static func setThreads(_ n: Int) -> Bool { curate_faces_blas_threads(Int32(n)) != 0 }

    /// Whether the descriptor network's convolutions, nearly all of its work, are the face bridge's own (built with
    /// AVX-512; `ConvolutionStats`) rather than dlib's matrix products on this BLAS.
    public static var ownConvolutions: Bool { curate_faces_own_convolutions() != 0 }

    /// Whether descriptors are several times slower than they could be: dlib's convolutions on the reference BLAS.
    public var slowDescriptors: Bool { !isOpenBLAS && !Self.ownConvolutions }

    /// Lines for `curate status` and `--version`, with what to do when it is the slow reference BLAS.
    public var summary: String {
        let lib = library.isEmpty ? "" : " (\(library))"
        let convolutions = Self.ownConvolutions
            ? "its convolutions: curate's own, AVX-512 (each layer shape checked against dlib's when first used)"
            : "its convolutions: dlib's matrix products on this BLAS"
        guard isOpenBLAS else {
            let cost = slowDescriptors ? "face descriptors run over 10x slower; install libopenblas0-pthread"
                                       : "only the network's last layer runs on it; install libopenblas0-pthread for training"
            return "reference BLAS\(lib): \(cost) (scripts/setup.sh does)\n\(convolutions)"
        }
        return "\(name)\(lib)\n" + choice.describe(core: core) + "\n" + convolutions
    }
}

/// How the OpenBLAS kernels of this process were chosen.
public enum BLASCoreChoice: Sendable, Equatable {
    /// OpenBLAS's own detection, and curate saw nothing better for this CPU.
    case library
    /// The user's OPENBLAS_CORETYPE, which curate never overrides.
    case user
    /// OpenBLAS fell back to `from` (a core older than the CPU: a CPU model its version does not know); curate
    /// restarted itself on the best core the CPU's instructions allow, which passed the self-check.
    case curate(from: String)
    /// curate's choice `tried` failed the self-check (`worst`: its largest relative error), so the process runs on
    /// OpenBLAS's own choice.
    case rejected(tried: String, worst: Double)

    func describe(core: String) -> String {
        switch self {
        case .library: "kernels: \(core), as OpenBLAS detected this CPU"
        case .user: "kernels: \(core), set by OPENBLAS_CORETYPE"
        case .curate(let from): "kernels: \(core), chosen by curate for this CPU's instructions (OpenBLAS fell back to \(from)); "
            + "its matrix product passed curate's self-check; OPENBLAS_CORETYPE overrides"
        case .rejected(let tried, let worst): "kernels: \(core), as OpenBLAS detected this CPU: \(tried) failed curate's self-check "
            + "(relative error \(String(format: "%.1e", worst)))"
        }
    }
}

/// Chooses OpenBLAS's kernels where its own detection fell back to an older core than the CPU runs. OpenBLAS reads
/// OPENBLAS_CORETYPE once, when it loads (before `main`), so a better choice takes a restart of the process with
/// the variable set: `prepare()`, first thing in `main`, does that, and the restarted process checks the new
/// kernels' matrix product against a plain one before trusting them.
public enum BLASCore {
    static let coreVariable = "OPENBLAS_CORETYPE"
    /// Set by curate on the restart it makes: "CHOSEN FALLBACK". Removed again at once.
    static let chosenVariable = "CURATE_BLAS_CHOSEN"
    /// Set by curate when its choice failed the self-check: "TRIED WORST". Removed again at once.
    static let rejectedVariable = "CURATE_BLAS_REJECTED"
    /// For tests on a CPU that OpenBLAS knows: treat OPENBLAS_CORETYPE as if OpenBLAS had detected that core itself.
    static let testFallbackVariable = "CURATE_TEST_BLAS_FALLBACK"
    /// For tests: a self-check tolerance (default 1e-4; a negative one fails every check).
    static let testToleranceVariable = "CURATE_TEST_BLAS_TOLERANCE"

    /// OpenBLAS's x86 cores (its DYNAMIC_ARCH names) by the instructions their kernels need: 1 AVX, 2 AVX2 and FMA,
    /// 3 AVX-512, 4 AVX-512 with BF16. A core not named here is taken as older than AVX.
    static let tiers: [String: Int] = [
        "sandybridge": 1, "bulldozer": 1, "bobcat": 1,
        "haswell": 2, "zen": 2, "piledriver": 2, "steamroller": 2, "excavator": 2,
        "skylakex": 3,
        "cooperlake": 4, "sapphirerapids": 4,
    ]
    /// The core curate asks for at each tier: the most widely built one (OpenBLAS 0.3.10 and later have them all).
    static let coreForTier = [1: "Sandybridge", 2: "Haswell", 3: "SkylakeX", 4: "Cooperlake"]

    public struct Features: Sendable, Equatable {
        public var avx = false, avx2 = false, fma = false, avx512 = false, avx512bf16 = false
        public init(avx: Bool = false, avx2: Bool = false, fma: Bool = false, avx512: Bool = false, avx512bf16: Bool = false) {
            self.avx = avx; self.avx2 = avx2; self.fma = fma; self.avx512 = avx512; self.avx512bf16 = avx512bf16
        }

        public static var cpu: Features {
            var f = curate_cpu_features()
            curate_cpu_read_features(&f)
            return Features(avx: f.avx != 0, avx2: f.avx2 != 0, fma: f.fma != 0, avx512: f.avx512 != 0, avx512bf16: f.avx512bf16 != 0)
        }

        var tier: Int {
            if avx512 && avx512bf16 { return 4 }
            if avx512 { return 3 }
            if avx2 && fma { return 2 }
            return avx ? 1 : 0
        }
    }

    /// The better core for this CPU when OpenBLAS's `loaded` one is below what the CPU's instructions allow; nil
    /// when it is as good, or when `loaded` is not a core curate knows (off x86, a newer OpenBLAS's names).
    public static func better(than loaded: String, for features: Features) -> String? {
        let known = tiers[loaded.lowercased()] ?? (loaded.isEmpty || !x86Cores.contains(loaded.lowercased()) ? nil : 0)
        guard let current = known, features.tier > current else { return nil }
        return coreForTier[features.tier]
    }

    /// OpenBLAS's older x86 cores: the fallbacks (by default "Prescott", SSE3 kernels from 2004).
    static let x86Cores: Set<String> = ["katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn",
                                        "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano"]

    /// OpenBLAS's kernels in this process; empty when the BLAS is not OpenBLAS.
    public static var loaded: String {
        var name = [CChar](repeating: 0, count: 64)
        curate_blas_core(&name, Int32(name.count))
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The loaded BLAS's matrix product (sgemm) against a plain one in double precision, on shapes that reach its
    /// vector kernels and their edges: passed when every entry is within `tolerance` relative to the magnitudes
    /// summed (float rounding is about 1e-7 of them), and the largest such error.
    public static func selfCheck(tolerance: Double) -> (passed: Bool, worst: Double) {
        var worst = 0.0
        let passed = curate_blas_self_check(tolerance, &worst) != 0
        return (passed, worst)
    }

    nonisolated(unsafe) private static var decided: BLASCoreChoice?

    /// How this process's kernels were chosen (by `prepare()`, or read from the environment where it did not run).
    public static var choice: BLASCoreChoice {
        if let decided { return decided }
        let environment = ProcessInfo.processInfo.environment
        return environment[coreVariable].map { !$0.isEmpty } == true && environment[testFallbackVariable] == nil ? .user : .library
    }

    /// Called first in `main`, before any thread starts: restarts the process on better kernels where OpenBLAS fell
    /// back (the restart runs the same arguments; it does not return then), checks them where this is that restart,
    /// and records the choice.
    public static func prepare() {
        decided = decide()
    }

    private static func decide() -> BLASCoreChoice {
        let environment = ProcessInfo.processInfo.environment
        let core = loaded
        if let marker = environment[chosenVariable] {
            unsetenv(chosenVariable)
            let parts = marker.split(separator: " ").map(String.init)
            guard parts.count == 2, core.lowercased() == parts[0].lowercased() else { return .library }   // not taken
            let tolerance = environment[testToleranceVariable].flatMap(Double.init) ?? 1e-4
            let (passed, worst) = selfCheck(tolerance: tolerance)
            if passed { return .curate(from: parts[1]) }
            // Wrong results: back to the core OpenBLAS chose itself, and say why.
            setenv(coreVariable, parts[1], 1)
            setenv(rejectedVariable, "\(parts[0]) \(worst)", 1)
            restart()
            unsetenv(rejectedVariable)
            return .rejected(tried: parts[0], worst: worst)   // the restart failed: still on the tried core
        }
        if let marker = environment[rejectedVariable] {
            unsetenv(rejectedVariable)
            let parts = marker.split(separator: " ")
            return .rejected(tried: parts.first.map(String.init) ?? "?", worst: parts.count > 1 ? Double(parts[1]) ?? .infinity : .infinity)
        }
        let userSet = environment[coreVariable].map { !$0.isEmpty } == true
        if userSet && environment[testFallbackVariable] == nil { return .user }
        guard !core.isEmpty, let chosen = better(than: core, for: .cpu) else { return userSet ? .user : .library }
        setenv(coreVariable, chosen, 1)
        setenv(chosenVariable, "\(chosen) \(core)", 1)
        unsetenv(testFallbackVariable)
        restart()
        // The restart failed: carry on with the kernels loaded.
        unsetenv(chosenVariable)
        return .library
    }

    /// Replaces this process by a fresh start of the same program with the same arguments and this environment.
    private static func restart() {
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
