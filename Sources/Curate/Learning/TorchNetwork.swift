// The torch bridge in Swift: a network (MLP head or CNN) owned by a Swift object, trained batch by batch. The
// bridge is a shared library (libCurateTorch.so, with libtorch behind it) loaded on first use, so that commands
// that never train do not pay libtorch's start-up (about 0.5 s and 160 MB).
import CTorchAPI
import Catalog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct TorchError: BadInput {
    public let description: String
}

/// The bridge's functions, resolved from libCurateTorch.so.
struct TorchLibrary {
    let defaultCNNSpec: @convention(c) (Int32) -> curate_torch_spec
    let setThreads: @convention(c) (Int32) -> Void
    let create: @convention(c) (UnsafePointer<curate_torch_spec>?, UInt64, UnsafeMutablePointer<curate_error>?) -> OpaquePointer?
    let free: @convention(c) (OpaquePointer?) -> Void
    let parameterCount: @convention(c) (OpaquePointer?) -> Int64
    let trainBatch: @convention(c) (OpaquePointer?, UnsafePointer<Float>?, UnsafePointer<Int64>?, Int32, UnsafePointer<curate_torch_step>?,
                                    UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<curate_error>?) -> Int32
    let predict: @convention(c) (OpaquePointer?, UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<curate_error>?) -> Int32
    let save: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<curate_error>?) -> Int32
    let load: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<curate_error>?) -> Int32

    static let name = "libCurateTorch.so"

    /// Loaded once: from CURATE_TORCH_LIBRARY when set, else beside the running executable, else the loader's
    /// search path.
    static let shared: Result<TorchLibrary, TorchError> = {
        var candidates: [String] = []
        if let path = ProcessInfo.processInfo.environment["CURATE_TORCH_LIBRARY"] {
            candidates = [path]
        } else {
            let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            candidates = [exe.deletingLastPathComponent().appendingPathComponent(name).path, name]
        }
        var errors: [String] = []
        for path in candidates {
            let lib: LoadedLibrary
            switch LoadedLibrary.open(path) {
            case .success(let loaded): lib = loaded
            case .failure(let failure): errors.append(failure.reason); continue
            }
            do {
                // Each symbol's type is the field's it fills.
                return .success(TorchLibrary(
                    defaultCNNSpec: try lib.symbol("curate_torch_default_cnn_spec"),
                    setThreads: try lib.symbol("curate_torch_set_threads"),
                    create: try lib.symbol("curate_torch_create"),
                    free: try lib.symbol("curate_torch_free"),
                    parameterCount: try lib.symbol("curate_torch_parameter_count"),
                    trainBatch: try lib.symbol("curate_torch_train_batch"),
                    predict: try lib.symbol("curate_torch_predict"),
                    save: try lib.symbol("curate_torch_save"),
                    load: try lib.symbol("curate_torch_load")))
            } catch {
                return .failure(TorchError(description: (error as? LoadedLibrary.Failure)?.reason ?? "\(error)"))
            }
        }
        return .failure(TorchError(description: "cannot load the torch bridge \(name) (\(errors.joined(separator: "; "))); "
                                   + "build it with `swift build --product CurateTorch` (scripts/setup.sh and the README's commands do), "
                                   + "or set CURATE_TORCH_LIBRARY to its path"))
    }()

    static func get() throws -> TorchLibrary { try shared.get() }
}

/// What network to build; stored with a run so that it can be built again to load the weights.
public struct NetworkSpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case mlp, cnn }
    public var kind: Kind
    /// MLP: input length; hidden units (0 = linear).
    public var inputs: Int
    public var hidden: Int
    /// CNN: image side, first block's channels, blocks, convolutions per block.
    public var side: Int
    public var width: Int
    public var blocks: Int
    public var convs: Int
    public var classes: Int
    public var dropout: Float

    public static func mlp(inputs: Int, hidden: Int, classes: Int, dropout: Float) -> NetworkSpec {
        NetworkSpec(kind: .mlp, inputs: inputs, hidden: hidden, side: 0, width: 0, blocks: 0, convs: 0, classes: classes, dropout: dropout)
    }

    /// The bridge's defaults for face crops, with this many classes and this side.
    public static func cnn(classes: Int, side: Int? = nil) throws -> NetworkSpec {
        let d = try TorchLibrary.get().defaultCNNSpec(Int32(classes))
        return NetworkSpec(kind: .cnn, inputs: 0, hidden: 0, side: side ?? Int(d.side), width: Int(d.width), blocks: Int(d.blocks),
                           convs: Int(d.convs), classes: classes, dropout: d.dropout)
    }

    /// Floats per example.
    public var inputLength: Int { kind == .mlp ? inputs : 3 * side * side }

    var bridged: curate_torch_spec {
        var s = curate_torch_spec()
        s.kind = kind == .mlp ? 0 : 1
        s.inputs = Int32(inputs)
        s.hidden = Int32(hidden)
        s.side = Int32(side)
        s.width = Int32(width)
        s.blocks = Int32(blocks)
        s.convs = Int32(convs)
        s.classes = Int32(classes)
        s.dropout = dropout
        return s
    }
}

/// One optimisation step's settings (the schedule is the caller's).
public struct StepSettings: Sendable {
    public var lr: Float
    public var beta1: Float
    public var weightDecay: Float
    public var labelSmoothing: Float
    public var flip: Bool
    public var cropPad: Int
    public var brightness: Float
    public var contrast: Float
    public var seed: UInt64

    var bridged: curate_torch_step {
        var s = curate_torch_step()
        s.lr = lr
        s.beta1 = beta1
        s.weight_decay = weightDecay
        s.label_smoothing = labelSmoothing
        s.flip = flip ? 1 : 0
        s.crop_pad = Int32(cropPad)
        s.brightness = brightness
        s.contrast = contrast
        s.seed = seed
        return s
    }
}

/// A network with its optimiser state. Use from one thread at a time.
public final class TorchNetwork {
    public let spec: NetworkSpec
    private let handle: OpaquePointer
    private let lib: TorchLibrary

    /// libtorch's intra-op threads for every network.
    public static func setThreads(_ n: Int) throws { try TorchLibrary.get().setThreads(Int32(n)) }

    public init(_ spec: NetworkSpec, seed: UInt64) throws {
        let lib = try TorchLibrary.get()
        var s = spec.bridged
        handle = try Bridge.value({ TorchError(description: "cannot build the network: \($0)") }) { lib.create(&s, seed, $0) }
        self.lib = lib
        self.spec = spec
    }

    deinit { lib.free(handle) }

    public var parameterCount: Int { Int(lib.parameterCount(handle)) }

    /// One step on a batch: `x` holds `labels.count` examples of `spec.inputLength` floats. Returns the mean loss
    /// and the number predicted right.
    public func train(_ x: [Float], labels: [Int64], step: StepSettings) throws -> (loss: Float, correct: Int) {
        precondition(x.count == labels.count * spec.inputLength, "batch of \(labels.count) with \(x.count) floats")
        var loss: Float = 0
        var correct: Int32 = 0
        var s = step.bridged
        try Bridge.call({ TorchError(description: "training step failed: \($0)") }) {
            lib.trainBatch(handle, x, labels, Int32(labels.count), &s, &loss, &correct, $0)
        }
        return (loss, Int(correct))
    }

    /// Class probabilities, one row of `spec.classes` per example.
    public func predict(_ x: [Float]) throws -> [[Float]] {
        let n = x.count / spec.inputLength
        guard n > 0 else { return [] }
        var out = [Float](repeating: 0, count: n * spec.classes)
        try Bridge.call({ TorchError(description: "prediction failed: \($0)") }) { lib.predict(handle, x, Int32(n), &out, $0) }
        return (0..<n).map { Array(out[($0 * spec.classes)..<(($0 + 1) * spec.classes)]) }
    }

    public func save(to url: URL) throws {
        try Bridge.call({ TorchError(description: "cannot save the model to \(url.path): \($0)") }) { lib.save(handle, url.path, $0) }
    }

    public func load(from url: URL) throws {
        try Bridge.call({ TorchError(description: "cannot load the model \(url.path): \($0)") }) { lib.load(handle, url.path, $0) }
    }
}
