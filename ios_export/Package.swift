// swift-tools-version:5.9
// pamkit's iOS side: from a `pamkit export` to a call that runs only the chosen tasks.
//   PamkitSelector: Foundation only. The manifest, the entry point for a set of tasks, preprocessing, decoding.
//   PamkitCoreML:   one function of the multifunction .mlpackage (iOS 18 / macOS 15), or the per-combination
//                   packages of `pamkit export --coreml-legacy` on older systems.
// Adapters/ExecuTorchRunner.swift runs the .pte through ExecuTorch's Swift API. It is not a target
// of this package, which depends on nothing: add the file to an app target that links ExecuTorch (the example app
// does; README.md). It is wrapped in #if canImport(ExecuTorch).
import PackageDescription

let package = Package(
    name: "Pamkit",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "PamkitSelector", targets: ["PamkitSelector"]),
        .library(name: "PamkitCoreML", targets: ["PamkitCoreML"]),
    ],
    targets: [
        .target(name: "PamkitSelector"),
        .target(name: "PamkitCoreML", dependencies: ["PamkitSelector"]),
        .testTarget(name: "PamkitSelectorTests", dependencies: ["PamkitSelector"]),
    ]
)
