/// The level 1 a map records, and whether a predictor applies it.
///
/// A map is only right for scores corrected as its fitting sample was. A
/// single-model predictor's level 1 is its model's odds ratio. A blend
/// corrects each member with its own odds ratio and then averages, so its
/// level 1 is the list of its members' ratios, in member order: the map of a
/// blend records that list. One recorded ratio (what `musectl transform fit`
/// writes, knowing nothing of blends) stands for every member.
extension ScoreMapFile.Entry {
    /// Records the level 1 of a predictor whose members correct with
    /// `members`, in member order: one ratio for a single model, each
    /// member's for a blend (even when they agree, so the file says it was
    /// fitted on a blend's posteriors).
    public mutating func record(levelOne members: [PosteriorCorrection]) {
        if members.count == 1 {
            correction = members[0]
            memberCorrections = nil
        } else {
            correction = nil
            memberCorrections = members
        }
    }

    /// What the entry records, as the file writes it (`0.1`, `0.1 1.0`);
    /// nil when it records none.
    public var recordedCorrection: String? {
        if let list = memberCorrections { return list.map { "\($0.oddsRatio)" }.joined(separator: " ") }
        return correction.map { "\($0.oddsRatio)" }
    }

    /// Whether a predictor whose members correct with `members` (in member
    /// order) gives the scores this map was fitted on; nil when the entry
    /// records no level 1 (a file from before `correction`), so there is
    /// nothing to check. Ratios compare exactly: each is computed from the
    /// same setting by the same arithmetic wherever it is recorded.
    public func correctionMatches(_ members: [PosteriorCorrection]) -> Bool? {
        if let list = memberCorrections {
            return list.count == members.count && zip(list, members).allSatisfy { $0.oddsRatio == $1.oddsRatio }
        }
        guard let c = correction else { return nil }
        return members.allSatisfy { $0.oddsRatio == c.oddsRatio }
    }
}
