// swift-tools-version:6.0
// curate: web image searches in, a clean labelled face dataset and a trained classifier out.
import PackageDescription

// The bridges instantiate dlib's templates in their own code: even a debug build compiles them optimised and
// without dlib's debug asserts (which SwiftPM's DEBUG define would turn on), or detection is 50x slower.
let optimizedCxx = ["-O3", "-march=native", "-UDEBUG", "-DNDEBUG"]

let package = Package(
    name: "curate",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "curate", targets: ["curate-cli"]),
        // The torch bridge, loaded by curate at run time from beside its executable (see Sources/Curate/Learning/TorchNetwork.swift).
        .library(name: "CurateTorch", type: .dynamic, targets: ["CTorchBridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/onevcat/Rainbow", from: "4.2.2"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // Bridges: thin C shims over system libraries.
        // The error record every bridge fills and, for their C++, the one guard that turns exceptions into it.
        .target(name: "CBridgeError", path: "Sources/CBridgeError"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // OpenCV (the four libraries used, not all 55; its codecs library, which brings a hundred more, is loaded on
        // first use), libjpeg (decoding and encoding), giflib and libexif behind a C API; libpng, libwebp and libtiff
        // asked for sizes.
        .target(name: "CImageBridge", dependencies: ["CBridgeError"], path: "Sources/CImageBridge",
                cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"] + optimizedCxx)],
                linkerSettings: ["opencv_core", "opencv_imgproc", "opencv_img_hash", "gif", "exif",
                                 "jpeg", "png16", "tiff", "webp"]
                    .map { .linkedLibrary($0) }),
        // dlib's face detector, shape predictor and ResNet descriptors behind a C API.
        .systemLibrary(name: "CDlib", path: "Sources/CDlib", pkgConfig: "dlib-1", providers: [.apt(["libdlib-dev"])]),
        // pkg-config names BLAS and LAPACK by file path, which SwiftPM drops: link them by name.
        .target(name: "CFaceBridge", dependencies: ["CBridgeError", "CDlib"], path: "Sources/CFaceBridge",
                cxxSettings: [.unsafeFlags(optimizedCxx)],
                linkerSettings: [.linkedLibrary("blas"), .linkedLibrary("lapack")]),

        // libtorch: the classifier networks (an MLP head on face descriptors, a small CNN on face crops) behind a C API.
        // Loading libtorch costs every process about 0.5 s and 160 MB, so the bridge is its own shared library,
        // loaded on first use (train, predict); the rest of curate compiles against its header alone (CTorchAPI).
        // Debian's libtorch is built with the new libstdc++ ABI and keeps its C++ API headers under csrc/api/include.
        .target(name: "CTorchAPI", dependencies: ["CBridgeError"], path: "Sources/CTorchAPI"),
        .target(name: "CTorchBridge", dependencies: ["CTorchAPI"], path: "Sources/CTorchBridge", publicHeadersPath: ".",
                cxxSettings: [.unsafeFlags(["-I/usr/include/torch/csrc/api/include", "-D_GLIBCXX_USE_CXX11_ABI=1"] + optimizedCxx)],
                linkerSettings: ["torch", "torch_cpu", "c10"].map { .linkedLibrary($0) }),

        // The catalog: SQLite through GRDB, the workspace's files, the codes stored in its columns and content
        // addressing (SHA-256, format sniffing). Knows nothing of pixels or HTTP.
        .target(name: "Catalog", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Search providers and the libcurl downloader; writes through Catalog.
        .target(name: "Crawler", dependencies: [
            "Catalog", "CCurl",
            .product(name: "DequeModule", package: "swift-collections"),
        ]),

        // Pipeline stages and reports over the catalog; reads and writes through Catalog, never through Crawler.
        .target(name: "Curate", dependencies: ["Catalog", "CBridgeError", "CImageBridge", "CFaceBridge", "CTorchAPI"]),

        // The command line: parses arguments and prints; decisions live in the libraries.
        .executableTarget(name: "curate-cli", dependencies: [
            "Curate", "Crawler", "Catalog", "Rainbow",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // A real HTTP server on 127.0.0.1 that emulates the providers and misbehaves on purpose.
        .target(name: "TestServer", dependencies: ["FlyingFox"], path: "Tests/TestServer"),
        .executableTarget(name: "curate-test-server", dependencies: ["TestServer"], path: "bench/server"),
        .executableTarget(name: "curate-bench-dedupe", dependencies: ["Curate"], path: "bench/dedupe"),
        .executableTarget(name: "curate-bench-identity", dependencies: ["Catalog", "Curate"], path: "bench/identity",
                          exclude: ["planted.sh", "suspects.sh", "crossval.sh", "masked.sh", "masked.py"]),
        .executableTarget(name: "curate-bench-pictures", dependencies: ["Curate"], path: "bench/pictures"),
        // A synthetic catalog of a million images through curate's own migrator (bench/scale.sh), and shards of one.
        .executableTarget(name: "curate-bench-scale", dependencies: [
            "Catalog",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ], path: "bench/scale"),
        .executableTarget(name: "curate-bench-merge", dependencies: ["Catalog",
                          .product(name: "GRDB", package: "GRDB.swift")], path: "bench/merge"),

        // Helpers the test targets share (paths to ../shared, temporary folders, running the built binary).
        .target(name: "TestSupport", dependencies: ["Catalog", "TestServer"], path: "Tests/TestSupport"),

        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "TestSupport"]),
        .testTarget(name: "CrawlerTests", dependencies: ["Crawler", "Catalog", "TestServer", "TestSupport"]),
        .testTarget(name: "CurateTests", dependencies: ["Curate", "Catalog", "TestSupport"]),
        // The real `curate` binary end to end: bad input, JSON, interruption, fetch to predict.
        .testTarget(name: "EndToEndTests", dependencies: ["Curate", "Crawler", "Catalog", "TestServer", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
