// MuseScoring's API speaks in MuseCore's typed ids (the routing table's
// predictors), so its users get them with it.
@_exported import MuseCore
