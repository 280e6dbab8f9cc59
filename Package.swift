// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// CI (which sets CI=true) builds with warnings as errors; local builds only warn.
let warningsAsErrors: [SwiftSetting] = ProcessInfo.processInfo.environment["CI"] == nil ? [] : [.unsafeFlags(["-warnings-as-errors"])]

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
] + warningsAsErrors

let package = Package(
    name: "twinscene",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "twinscene", targets: ["twinscene"]),
        .library(name: "SceneCore", targets: ["SceneCore"]),
        .library(name: "SceneWire", targets: ["SceneWire"]),
        .library(name: "SceneClient", targets: ["SceneClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", exact: "0.2.0"),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", exact: "2.8.1"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CGEOS", path: "Sources/CGEOS", pkgConfig: "geos", providers: [.apt(["libgeos-dev"])]),
        .target(name: "SceneCore", swiftSettings: strict),
        .target(name: "StrictJSON", swiftSettings: strict),
        .target(name: "Districts", dependencies: ["SceneCore"], swiftSettings: strict),
        .target(name: "CityTiles", dependencies: [
            "StrictJSON", "CGEOS",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        // CZlib: tracking files may come gzip-compressed (.csv.gz).
        .target(name: "Scenarios", dependencies: ["SceneCore", "CityTiles", "StrictJSON", "CZlib"], swiftSettings: strict),
        // The NATS core client protocol on SwiftNIO (docs/NATS.md): no Swift NATS client is in the mirror.
        .target(name: "NATSClient", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        .target(name: "SceneWire", dependencies: [
            "CZlib",
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
        .target(name: "SceneServer", dependencies: [
            "SceneCore", "Scenarios", "CityTiles", "SceneWire", "NATSClient",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        // HTTP and WebSocket (Hummingbird): the viewer page, the scenes as JSON, the protocol on /ws.
        .target(name: "SceneWeb", dependencies: [
            "SceneServer", "SceneWire", "Scenarios",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], resources: [.copy("Viewer")], swiftSettings: strict),
        .target(name: "SceneClient", dependencies: [
            "SceneWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: strict),
        .target(name: "TwinBench", dependencies: [
            "SceneCore", "Scenarios", "CityTiles", "StrictJSON", "Districts", "SceneWire", "SceneServer", "SceneClient", "CZlib",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: strict),
        .executableTarget(name: "twinscene", dependencies: [
            "SceneCore", "Scenarios", "CityTiles", "Districts", "SceneWire", "SceneServer", "SceneWeb", "SceneClient", "TwinBench", "NATSClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .executableTarget(name: "EngineBenchmarks", dependencies: [
            "SceneCore", "Scenarios", "SceneWire", "TwinBench",
            .product(name: "Benchmark", package: "benchmark"),
        ], path: "Benchmarks/EngineBenchmarks", swiftSettings: warningsAsErrors, plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .testTarget(name: "SceneCoreTests", dependencies: ["SceneCore"], swiftSettings: strict),
        .testTarget(name: "StrictJSONTests", dependencies: ["StrictJSON"], swiftSettings: strict),
        .testTarget(name: "CityTilesTests", dependencies: [
            "CityTiles", "SceneCore", "StrictJSON", "Districts",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        .testTarget(name: "SceneWireTests", dependencies: [
            "SceneWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "ScenariosTests", dependencies: ["Scenarios", "SceneCore", "CityTiles", "StrictJSON", "SceneWire"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: [
            "twinscene", "SceneWire",
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "SceneServerTests", dependencies: [
            "SceneServer", "SceneClient", "SceneCore", "Scenarios", "CityTiles", "Districts", "SceneWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        // A real nats-server for the tests that need one (NATSClientTests, ScaleOutTests).
        .target(name: "NATSTestSupport", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Tests/NATSTestSupport", swiftSettings: strict),
        .testTarget(name: "ScaleOutTests", dependencies: [
            "NATSTestSupport", "NATSClient", "SceneServer", "SceneWeb", "SceneClient", "SceneWire", "SceneCore", "Scenarios", "CityTiles",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "NATSClientTests", dependencies: [
            "NATSTestSupport", "NATSClient", "SceneCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "SceneWebTests", dependencies: [
            "SceneWeb", "SceneServer", "SceneClient", "Scenarios", "CityTiles", "SceneWire",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
    ]
)
