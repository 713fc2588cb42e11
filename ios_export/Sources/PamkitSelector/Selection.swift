import Foundation

/// Why no entry point can serve a request.
public enum SelectionError: Error, LocalizedError, Equatable {
    case unknownTask([String], known: [String])
    case noTasks(known: [String])
    case notCovered([String])

    public var errorDescription: String? {
        switch self {
        case .unknownTask(let names, let known):
            return "unknown task(s) \(names.map { "'\($0)'" }.joined(separator: ", ")); the model's tasks are: \(known.joined(separator: ", "))"
        case .noTasks(let known): return "no tasks requested; the model's tasks are: \(known.joined(separator: ", "))"
        case .notCovered(let names):
            return "no entry point runs all of \(names.joined(separator: ", ")); export that combination (pamkit export --combinations)"
        }
    }
}

public extension Manifest {
    /// The entry point to run for `tasks`: the one whose tasks are exactly these, else the cheapest (fewest MACs;
    /// ties: fewer tasks, then the entry name) that runs all of them. The rule of `pamkit.export.select_entry`,
    /// pinned for every side by tests/selection_cases.json.
    func select(_ tasks: [String]) throws -> Combination {
        let known = taskNames
        let unknown = tasks.filter { !known.contains($0) }
        if !unknown.isEmpty { throw SelectionError.unknownTask(unknown, known: known) }
        if tasks.isEmpty { throw SelectionError.noTasks(known: known) }
        let wanted = Set(tasks)
        if let exact = combinations.first(where: { Set($0.tasks) == wanted }) { return exact }
        let covering = combinations.filter { wanted.isSubset(of: Set($0.tasks)) }
        guard let best = covering.min(by: { ($0.macs, $0.tasks.count, $0.entry) < ($1.macs, $1.tasks.count, $1.entry) }) else {
            throw SelectionError.notCovered(tasks)
        }
        return best
    }
}
