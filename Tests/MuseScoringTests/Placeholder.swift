import Testing
@testable import MuseScoring
