import Foundation
import XCTest
@testable import PamkitSelector

/// The cases the Python and Android sides answer too: tests/selection_cases.json, tests/app_fixtures/.
final class SharedCasesTests: XCTestCase {
    /// The repository root, from this file's place in it (ios_export/Tests/PamkitSelectorTests/).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(path))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func manifestData(_ name: String, edit: (inout [String: Any]) -> Void = { _ in }) throws -> Data {
        var object = try json("tests/app_fixtures/manifests/\(name).json")
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    func testTheDemoAndThreeTaskManifestsParse() throws {
        let demo = try Manifest.parse(Self.manifestData("demo"))
        XCTAssertEqual(demo.taskNames, ["a", "b"])
        XCTAssertEqual(Set(demo.combinations.map(\.entry)), ["a", "b", "a__b"])
        XCTAssertEqual(demo.task("a")?.decision.rule, .threshold)
        XCTAssertNotNil(demo.artifact(["coreml"]))
        let three = try Manifest.parse(Self.manifestData("three_tasks"))
        XCTAssertEqual(three.taskNames, ["digit", "odd", "high"])
        XCTAssertEqual(three.input.shape, [1, 1, 32, 32])
        XCTAssertEqual(three.input.preprocessing.steps[1], .resize(height: 32, width: 32, alignCorners: false, antialias: false))
    }

    func testEverySelectionCase() throws {
        let shared = try Self.json("tests/selection_cases.json")
        let fragment = try XCTUnwrap(shared["manifest"] as? [String: Any])
        let manifest = try Manifest.parse(Self.manifestData("three_tasks") { root in
            let real = (root["tasks"] as! [[String: Any]])[0]
            root["tasks"] = (fragment["tasks"] as! [[String: Any]]).map { task -> [String: Any] in
                var copy = real
                copy["name"] = task["name"]
                copy["output"] = (task["name"] as! String).replacingOccurrences(of: "-", with: "_")
                return copy
            }
            root["combinations"] = (fragment["combinations"] as! [[String: Any]]).map { c -> [String: Any] in
                var copy = c
                copy["params"] = 1
                return copy
            }
            root["default_combination"] = "category"
            root["files"] = [Any]()
        })
        for case let item as [String: Any] in try XCTUnwrap(shared["cases"] as? [Any]) {
            let tasks = item["tasks"] as! [String]
            if let error = item["error"] as? String {
                XCTAssertThrowsError(try manifest.select(tasks), "\(tasks)") { thrown in
                    let kind: String
                    switch thrown as? SelectionError {
                    case .unknownTask: kind = "unknown_task"
                    case .noTasks: kind = "no_tasks"
                    case .notCovered: kind = "not_covered"
                    case nil: kind = "\(thrown)"
                    }
                    XCTAssertEqual(kind, error)
                }
            } else {
                let entry = try manifest.select(tasks)
                XCTAssertEqual(entry.entry, item["entry"] as? String, "\(tasks)")
                XCTAssertEqual(entry.outputs, item["outputs"] as? [String], "\(tasks)")
            }
        }
    }

    func testDecodingAsPamkitDoes() throws {
        let cases = try XCTUnwrap(Self.json("tests/app_fixtures/app_cases.json")["decoding"] as? [[String: Any]])
        for item in cases {
            let data = try JSONSerialization.data(withJSONObject: item["task"]!)
            let task = try JSONDecoder().decode(TaskSpec.self, from: data)
            let values = (item["values"] as! [NSNumber]).map(\.floatValue)
            let expected = item["answer"] as! [String: Any]
            switch task.decode(values) {
            case .label(let label, _): XCTAssertEqual(label, expected["label"] as? String)
            case .present(let labels): XCTAssertEqual(labels, expected["present"] as? [String])
            }
        }
    }

    func testPreprocessingAsPamkitDoes() throws {
        let cases = try XCTUnwrap(Self.json("tests/app_fixtures/app_cases.json")["preprocessing"] as? [[String: Any]])
        for item in cases {
            let spec = try JSONDecoder().decode(InputSpec.self, from: JSONSerialization.data(withJSONObject: item["input"]!))
            let gray = (item["pixels"] as! [NSNumber]).map(\.uint8Value)
            let rgba = gray.flatMap { [$0, $0, $0, 255] }
            let got = try Preprocessor(spec: spec).tensor(rgba: rgba, width: item["width"] as! Int, height: item["height"] as! Int)
            let expected = (item["expected"] as! [NSNumber]).map(\.floatValue)
            XCTAssertEqual(got.count, expected.count)
            for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 2e-5, item["name"] as! String) }
        }
    }

    func testBadManifestsNameTheProblem() throws {
        XCTAssertThrowsError(try Manifest.parse(Self.manifestData("demo") { $0["schema_version"] = 2 })) {
            XCTAssertEqual($0 as? ManifestError, .unsupportedVersion(2))
            XCTAssertTrue($0.localizedDescription.contains("update the app"))
        }
        XCTAssertThrowsError(try Manifest.parse(Self.manifestData("demo") { $0["default_combination"] = "a__c" })) {
            XCTAssertTrue($0.localizedDescription.contains("default_combination 'a__c' is not an entry point"))
        }
        XCTAssertThrowsError(try Manifest.parse(Self.manifestData("demo") { root in
            var tasks = root["tasks"] as! [[String: Any]]
            tasks[1].removeValue(forKey: "labels")
            root["tasks"] = tasks
        })) {
            XCTAssertTrue($0.localizedDescription.contains("tasks[1].labels is missing"), $0.localizedDescription)
        }
    }
}
