/// Why a model file could not be imported, and where.
///
/// `description` is meant for an operator reading a log or a terminal: it names
/// the format, the place in the file (line, tree, node, JSON path) and what is
/// wrong with it, e.g. `LightGBM model, line 42 (tree 3): right_child of node 5
/// refers to leaf 40 but the tree has 31 leaves`.
public struct ModelImportError: Error, CustomStringConvertible, Sendable, Equatable {
    public let format: String
    public let location: String
    public let message: String

    public init(format: String, location: String, message: String) {
        self.format = format
        self.location = location
        self.message = message
    }

    public var description: String {
        let what = format == "unknown" ? "model" : "\(format) model"
        return location.isEmpty ? "\(what): \(message)" : "\(what), \(location): \(message)"
    }
}

/// A feature vector whose length does not match the model's feature list.
public struct FeatureCountError: Error, CustomStringConvertible, Sendable, Equatable {
    public let expected: Int
    public let actual: Int
    public var description: String {
        "model expects \(expected) features but was given \(actual)"
    }
}
