import CMuse

/// What a segment's intent table can show (muse.h `muse_intent_entry`) and
/// what mused serves: checked when a snapshot is built and when it is loaded,
/// so a generation is refused before a swap rather than at publication.
public enum IntentName {
    /// muse.h holds the name NUL-terminated in MUSE_INTENT_NAME_SIZE bytes.
    public static var maxLength: Int { Int(MUSE_INTENT_NAME_SIZE) - 1 }
    /// Intents one segment's table holds.
    public static var maxCount: Int { Int(MUSE_MAX_INTENTS) }
    /// mused indexes intents by id in dense per-event tables, so ids are kept small.
    public static let maxID: UInt32 = 4095

    /// Nil if `name` fits muse.h's intent table, else why not. A NUL would
    /// end the name early for a C client, so it is refused like a long name.
    public static func problem(_ name: String) -> String? {
        let count = name.utf8.count
        guard (1...maxLength).contains(count) else { return "an intent name must be 1-\(maxLength) bytes (muse.h), got \(count)" }
        guard !name.utf8.contains(0) else { return "an intent name must not contain NUL (muse.h ends it there)" }
        return nil
    }
}

/// A feature name as the segment's schema area carries it: the names of an
/// intent are joined by "\n" there (and for its schema hash), each 1 to
/// `MUSE_FEATURE_NAME_MAX` bytes with no "\n" or NUL (muse.h, THE SCHEMA AREA).
public enum FeatureName {
    public static var maxLength: Int { Int(MUSE_FEATURE_NAME_MAX) }

    /// Nil if `name` can be published, else why not.
    public static func problem(_ name: String) -> String? {
        let count = name.utf8.count
        guard (1...maxLength).contains(count) else { return "a feature name must be 1-\(maxLength) bytes (muse.h), got \(count)" }
        guard !name.utf8.contains(where: { $0 == 0x0A || $0 == 0 }) else {
            return "a feature name must not contain a newline or NUL (muse.h joins the names with newlines)"
        }
        return nil
    }
}
