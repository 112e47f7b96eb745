// swift-tools-version:6.0
// Lifeline: a contact-center cluster for healthcare call centers.
// No package dependencies by design: the toolchain, SQLite and OpenSSL only.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "Lifeline",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lifeline", targets: ["lifeline"]),
    ],
    targets: [
        // MARK: - System libraries and the C shim
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CShims", dependencies: ["COpenSSL", "CSQLite"]),

        // MARK: - Pure cores
        .target(name: "Raft", swiftSettings: strict),
        .target(name: "ContactCenter", swiftSettings: strict),

        // MARK: - Tools built on the cores
        .target(name: "Simulation", dependencies: ["Raft"], swiftSettings: strict),

        // MARK: - The shell's parts
        .target(name: "Storage", dependencies: ["Raft", "CSQLite", "CShims"], swiftSettings: strict),
        .target(name: "Transport", dependencies: ["CShims", "COpenSSL"], swiftSettings: strict),
        .target(name: "Vault", dependencies: ["CShims", "COpenSSL"], swiftSettings: strict),
        .target(name: "Node", dependencies: ["Raft", "ContactCenter", "Storage", "Transport", "Vault", "CShims"], swiftSettings: strict),
        // The drill harness: a client of the nodes and a proxy on their links, never a Node.
        .target(name: "Chaos", dependencies: ["Transport"], swiftSettings: strict),

        // MARK: - The executable
        .executableTarget(
            name: "lifeline",
            dependencies: ["Raft", "Simulation", "ContactCenter", "Storage", "Transport", "Vault", "Chaos", "Node"],
            swiftSettings: strict
        ),

        // MARK: - Tests
        .testTarget(name: "RaftTests", dependencies: ["Raft"], swiftSettings: strict),
        .testTarget(name: "SimulationTests", dependencies: ["Raft", "Simulation"], swiftSettings: strict),
        .testTarget(name: "ContactCenterTests", dependencies: ["ContactCenter"], swiftSettings: strict),
        .testTarget(name: "TransportTests", dependencies: ["Transport"], swiftSettings: strict),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Raft"], swiftSettings: strict),
        .testTarget(name: "VaultTests", dependencies: ["Vault"], swiftSettings: strict),
        .testTarget(name: "ChaosTests", dependencies: ["Chaos", "Vault"], swiftSettings: strict),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Raft", "Transport", "Vault", "ContactCenter", "Chaos"], swiftSettings: strict),
    ]
)
