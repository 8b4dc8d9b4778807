import MuseScoring

/// Each part of a generation as its section's bytes (layouts in
/// docs/snapshot-format.md). Small sections first; the model text, the
/// largest and only needed for audit, last.
extension SnapshotContents {
    func encodedSections() -> [(SectionKind, [UInt8])] {
        [(.metadata, encodeMetadata()), (.intents, encodeIntents()), (.predictors, encodePredictors()),
         (.corrections, encodeCorrections()), (.routes, encodeRoutes()), (.scoreMaps, Array(scoreMaps.encoded().utf8)),
         (.models, encodeModels()), (.canaries, encodeCanaries()), (.modelSources, encodeSources())]
    }

    func encodeMetadata() -> [UInt8] {
        var w = ByteWriter()
        w.count(metadata.count)
        for m in metadata { w.string(m.key); w.string(m.value) }
        return w.bytes
    }

    func encodeIntents() -> [UInt8] {
        var w = ByteWriter()
        w.count(intents.count)
        for i in intents {
            w.string(i.name); w.u32(i.id.rawValue); w.u64(i.schemaHash); w.strings(i.featureNames)
        }
        return w.bytes
    }

    func encodePredictors() -> [UInt8] {
        var w = ByteWriter()
        w.count(predictors.count)
        for p in predictors {
            w.string(p.name)
            w.count(p.members.count)
            for m in p.members { w.string(m.model); w.f64(m.weight) }
        }
        return w.bytes
    }

    func encodeCorrections() -> [UInt8] {
        var w = ByteWriter()
        w.count(models.count)
        for m in models {
            w.string(m.name)
            switch m.correction {
            case .identity: w.u8(0); w.f64(0); w.f64(0)
            case .negativeSamplingRate(let b): w.u8(1); w.f64(b); w.f64(0)
            case .priors(let t, let s): w.u8(2); w.f64(t); w.f64(s)
            }
            w.f64((try? m.correction.correction())?.oddsRatio ?? .nan)
        }
        return w.bytes
    }

    func encodeRoutes() -> [UInt8] {
        var w = ByteWriter()
        w.count(routes.count)
        for r in routes { w.string(r.tenant); w.string(r.intent); w.string(r.predictor); w.strings(r.shadows) }
        return w.bytes
    }

    /// Flat arrays are 16-byte aligned within the section (sections are too),
    /// so a loader could use them in place.
    func encodeModels() -> [UInt8] {
        var w = ByteWriter()
        w.count(models.count)
        for m in models {
            w.string(m.name)
            switch m.model {
            case .trees(let t):
                let f = t.flatArrays
                w.u8(1)
                w.strings(f.featureNames)
                switch f.accumulation {
                case .double(let d): w.u8(1); w.f64(d)
                case .float: w.u8(2); w.f64(0)
                }
                switch f.link {
                case .lightgbmSigmoid(let k): w.u8(1); w.f64(k)
                case .xgboostSigmoid: w.u8(2); w.f64(0)
                case .logistic: w.u8(3); w.f64(0)
                }
                w.f64(f.baseMargin)
                w.count(f.nodes.count); w.count(f.roots.count); w.count(f.laneStarts.count); w.count(f.categoryWords.count)
                w.align(16); w.raw(f.nodes)
                w.raw(f.roots); w.raw(f.laneStarts); w.raw(f.categoryWords)
                w.align(16)
            case .logistic(let l):
                w.u8(2)
                w.strings(l.featureNames)
                w.f64(l.intercept)
                w.count(l.coefficients.count)
                w.align(16); w.raw(l.coefficients)
            }
        }
        return w.bytes
    }

    func encodeCanaries() -> [UInt8] {
        var w = ByteWriter()
        w.count(canaries.count)
        for c in canaries {
            w.string(c.tenant); w.string(c.intent)
            w.count(c.features.count)
            for x in c.features { w.f64(x) }
            w.count(c.expected.count)
            for e in c.expected { w.string(e.predictor); w.f64(e.raw); w.f64(e.score) }
        }
        return w.bytes
    }

    func encodeSources() -> [UInt8] {
        var w = ByteWriter()
        w.count(models.count)
        for m in models { w.string(m.name); w.string(m.source.format.rawValue); w.blob(m.source.bytes) }
        return w.bytes
    }
}
