import Testing
@testable import MuseScoring

/// Models of libraries Muse does not read are named as such, with what to
/// export instead, not reported as damaged XGBoost models.
@Suite struct UnsupportedFormatTests {
    static let catboost = """
        {
          "features_info": {"float_features": [{"feature_index": 0, "flat_feature_index": 0, "borders": [0.5]}]},
          "model_info": {"params": "{}"},
          "oblivious_trees": [{"leaf_values": [0.1, -0.1], "splits": [{"border": 0.5, "float_feature_index": 0, "split_index": 0, "split_type": "FloatFeature"}]}],
          "scale_and_bias": [1, [0]]
        }
        """

    /// ir_version 8, producer "skl2onnx", then a truncated graph.
    static let onnx: [UInt8] = [0x08, 0x08, 0x12, 0x08] + Array("skl2onnx".utf8) + [0x1A, 0x05] + Array("1.0.0".utf8)
        + [0x22, 0x07] + Array("ai.onnx".utf8) + [0x3A, 0x02, 0x0A, 0x00]

    @Test func catBoostJSONIsNamed() {
        #expect { _ = try ModelImporter.load(Array(Self.catboost.utf8)) } throws: {
            let d = String(describing: $0)
            return d.contains("unsupported format: this is a CatBoost model") && d.contains("XGBoost JSON/UBJSON")
                && d.contains("save_model('model.txt')") && !d.contains("XGBoost model,")
        }
    }

    @Test func catBoostWithModelInfoFirst() {
        let text = #"{"model_info": {"catboost_version_info": "1.2"}, "features_info": {}, "oblivious_trees": []}"#
        #expect { _ = try ModelImporter.detectFormat(Array(text.utf8)) } throws: {
            String(describing: $0).contains("this is a CatBoost model")
        }
    }

    @Test func onnxIsNamed() {
        #expect { _ = try ModelImporter.load(Self.onnx) } throws: {
            let d = String(describing: $0)
            return d.contains("unsupported format: this is an ONNX model") && d.contains("LightGBM")
        }
    }

    @Test func xgboostJSONStillDetected() throws {
        #expect(try ModelImporter.detectFormat(try Fixtures.bytes("nan_missing.xgb.json")) == .xgboost)
        #expect(try ModelImporter.detectFormat(try Fixtures.bytes("nan_missing.lgb.txt")) == .lightgbm)
    }
}
