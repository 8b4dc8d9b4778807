// MuseSnapshot's API speaks in MuseCore's types (generation and intent ids,
// `SystemCallError`), so its users get them with it.
@_exported import MuseCore
