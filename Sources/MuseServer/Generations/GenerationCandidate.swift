/// What a swap, a candidate or a promotion asks mused to serve, before it is
/// loaded: every kind goes through the same checks in
/// `GenerationManager.validate`.
enum GenerationCandidate {
    /// A snapshot file an operator names (an absolute path, read by mused).
    /// An intent schema that changed needs `allowSchemaChange`.
    case file(String, allowSchemaChange: Bool)
    /// A whole snapshot mused built itself from the serving one; `origin`
    /// says how, for the log and `status`. Its schema may not change.
    case built([UInt8], origin: String)
}
