import SwiftUI

/// The example app: toggle tasks, pick a runtime and a sample image, see every task's answer and the latency.
@main
struct PamkitDemoApp: App {
    var body: some Scene {
        WindowGroup { ContentView() }
    }
}
