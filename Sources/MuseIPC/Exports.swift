// MuseIPC's API speaks in MuseCore's names (tenant names, intent limits),
// so its users get them with it.
@_exported import MuseCore
