"""muse.snapshot against the real musectl: generations built from model files
and from booster objects (duck-typed: LightGBM and XGBoost need not be
installed), checked with `musectl snapshot verify` and served by a real mused."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import muse
from muse import snapshot
from muse.snapshot import Generation, SnapshotError

from conftest import Daemon

CNP = [f"f_num_{i}" for i in range(6)]


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path) as f:
        names = f.readline().strip().split(",")
    values = np.genfromtxt(path, delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)
    return names, values


class LightGBMBooster:
    """What muse.snapshot uses of lightgbm.Booster."""

    def __init__(self, path: Path) -> None:
        self.text = path.read_text()

    def model_to_string(self) -> str:
        return self.text


class XGBoostBooster:
    """What muse.snapshot uses of xgboost.Booster: save_model picks JSON from the name."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save_model(self, fname: str) -> None:
        assert fname.endswith(".json")
        shutil.copyfile(self.path, fname)


class LGBMClassifier:
    def __init__(self, booster: LightGBMBooster) -> None:
        self.booster_ = booster


class XGBClassifier:
    def __init__(self, booster: XGBoostBooster) -> None:
        self._booster = booster

    def get_booster(self) -> XGBoostBooster:
        return self._booster


class Frame:
    """What muse.snapshot uses of a pandas DataFrame."""

    def __init__(self, columns: list[str], values: np.ndarray) -> None:
        self.columns = columns
        self._values = values

    def to_numpy(self, dtype: type) -> np.ndarray:
        return self._values.astype(dtype)


def example_generation(fixtures: Path, generation: int = 3) -> Generation:
    gen = Generation(generation, description="python snapshot test", created_at=1764000000)
    gen.add_model("cnp-lgb", fixtures / "deep.lgb.txt", negative_sampling_rate=0.1)
    gen.add_model("cnp-xgb", str(fixtures / "many_shallow.xgb.json"))
    gen.add_model("login-xgb", fixtures / "nan_missing.xgb.json", training_prior=0.05, serving_prior=0.01)
    gen.add_predictor("cnp-v1", "cnp-lgb")
    gen.add_predictor("cnp-blend", ["cnp-lgb", "cnp-xgb"], weights=[0.7, 0.3])
    gen.add_predictor("login-v1", ["login-xgb"])
    gen.add_intent("card-not-present", id=1, features=CNP, canary_rows=fixtures / "deep.lgb.rows.csv")
    gen.add_intent("account-login", id=2, features=CNP[:5])
    names, values = read_csv(fixtures / "many_shallow.xgb.rows.csv")
    gen.fit_maps_from_rows("cnp-v1", {"bank-a": fixtures / "deep.lgb.rows.csv",
                                      "shop-b": dict(zip(names, values.T))},
                           reference="beta:2,5", knots=101, min_samples=100)
    rng = np.random.default_rng(7)
    gen.fit_maps_from_scores("login-v1", {"bank-a": rng.beta(1, 30, 2000), "shop-b": rng.beta(1, 20, 50)},
                             knots=51, min_samples=100)
    gen.add_route("bank-a", "card-not-present", "cnp-v1", shadows=["cnp-blend"])
    gen.add_route("shop-b", "card-not-present", "cnp-blend")
    gen.add_route("bank-a", "account-login", "login-v1")
    gen.set_canaries(per_route=3, seed=5)
    return gen


def test_generation_from_model_files(tmp_path: Path, musectl: str, fixtures: Path) -> None:
    gen = example_generation(fixtures)
    result = gen.build(tmp_path / "gen3.muse", musectl=musectl, workdir=tmp_path / "manifest")
    assert result.path == tmp_path / "gen3.muse" and result.path.stat().st_size > 0
    assert result.generation == 3 and "3 routes" in result.summary
    assert snapshot.verify(result.path, musectl=musectl).startswith("ok: generation 3, 9 canaries reproduced")

    summary = snapshot.inspect(result.path, musectl=musectl)
    assert summary["generation"] == 3 and summary["createdAt"] == 1764000000 and summary["canaries"] == 9
    assert summary["metadata"]["description"] == "python snapshot test"
    assert {m["name"]: m["sourceFormat"] for m in summary["models"]} == {
        "cnp-lgb": "lightgbm", "cnp-xgb": "xgboost", "login-xgb": "xgboost"}
    assert {i["name"]: (i["id"], i["features"]) for i in summary["intents"]} == {
        "card-not-present": (1, CNP), "account-login": (2, CNP[:5])}
    assert sorted((r["tenant"], r["intent"], r["predictor"], tuple(r["shadows"])) for r in summary["routes"]) == [
        ("bank-a", "account-login", "login-v1", ()), ("bank-a", "card-not-present", "cnp-v1", ("cnp-blend",)),
        ("shop-b", "card-not-present", "cnp-blend", ())]
    blend = next(p for p in summary["predictors"] if p["name"] == "cnp-blend")
    assert blend["models"] == ["cnp-lgb", "cnp-xgb"] and blend["weights"] == pytest.approx([0.7, 0.3])
    maps = {(m["predictor"], m["tenant"]): m for m in summary["maps"]}
    # At most the knots asked for (fewer where the samples tie).
    assert 1 < maps[("cnp-v1", "bank-a")]["knots"] <= 101 and 1 < maps[("cnp-v1", "shop-b")]["knots"] <= 101
    assert maps[("cnp-v1", "bank-a")]["reference"].startswith("beta")
    assert 1 < maps[("login-v1", "bank-a")]["knots"] <= 51
    assert maps[("login-v1", "shop-b")].get("fallback")   # 50 scores < min_samples: the pooled map

    # The manifest it wrote is an ordinary one: musectl builds the same content from it.
    again = snapshot.build(tmp_path / "manifest" / "manifest.toml", tmp_path / "again.muse", musectl=musectl)
    assert snapshot.inspect(again.path, musectl=musectl)["contentHash"] == summary["contentHash"]
    # It names what it wrote relative to itself: the directory can be moved.
    moved = shutil.move(tmp_path / "manifest", tmp_path / "moved")
    assert snapshot.build(Path(moved) / "manifest.toml", tmp_path / "moved.muse", musectl=musectl).generation == 3


def test_boosters_are_saved_and_mused_serves_the_generation(tmp_path: Path, musectl: str, fixtures: Path) -> None:
    gen = Generation(11, description="boosters")
    gen.add_model("cnp-lgb", LGBMClassifier(LightGBMBooster(fixtures / "deep.lgb.txt")))
    gen.add_model("cnp-xgb", XGBClassifier(XGBoostBooster(fixtures / "many_shallow.xgb.json")))
    gen.add_model("cnp-lgb-raw", LightGBMBooster(fixtures / "random_forest.lgb.txt"))
    gen.add_model("cnp-xgb-raw", XGBoostBooster(fixtures / "deep_logitraw.xgb.json"))
    for name in ("cnp-lgb", "cnp-xgb", "cnp-lgb-raw", "cnp-xgb-raw"):
        gen.add_predictor(name, name)
    gen.add_intent("card-not-present", id=1, features=CNP)
    lgb_names, lgb_rows = read_csv(fixtures / "deep.lgb.rows.csv")
    xgb_names, xgb_rows = read_csv(fixtures / "many_shallow.xgb.rows.csv")
    gen.fit_maps_from_rows("cnp-lgb", {"py-a": Frame(lgb_names, lgb_rows)}, knots=51, min_samples=50)
    gen.fit_maps_from_rows("cnp-xgb", {"py-b": Frame(xgb_names, xgb_rows)}, knots=51, min_samples=50)
    gen.add_route("py-a", "card-not-present", "cnp-lgb", shadows=["cnp-lgb-raw"])
    gen.add_route("py-b", "card-not-present", "cnp-xgb", shadows=["cnp-xgb-raw"])
    result = gen.build(tmp_path / "gen11.muse", musectl=musectl, workdir=tmp_path / "w")
    assert result.generation == 11
    assert sorted(p.name for p in (tmp_path / "w" / "data").glob("model-*")) == [
        "model-0-cnp-lgb.lgb.txt", "model-1-cnp-xgb.xgb.json", "model-2-cnp-lgb-raw.lgb.txt",
        "model-3-cnp-xgb-raw.xgb.json"]
    assert snapshot.verify(result.path, musectl=musectl).startswith("ok: generation 11")

    # Served: the client sees the intent's features, and the raw score (no
    # level-1 correction here) is the model's own probability, bit for bit.
    daemon = Daemon(["py-a::2:64", "py-b::2:64"], snapshot=str(result.path))
    try:
        for tenant, stem in (("py-a", "deep.lgb"), ("py-b", "many_shallow.xgb")):
            names, rows = read_csv(fixtures / f"{stem}.rows.csv")
            expected = np.genfromtxt(fixtures / f"{stem}.expected.csv", delimiter=",", skip_header=1)[:, 0]
            with muse.Client(tenant, daemon.runtime_dir) as client:
                intent = client.intent("card-not-present")
                assert intent.feature_names == tuple(CNP) and intent.id == 1
                with client.channel() as ch:
                    for row, probability in list(zip(rows, expected))[:40]:
                        done = ch.score(intent, dict(zip(names, row)))
                        assert done.ok and done.generation_id == 11
                        assert done.raw_score == probability
                        assert 0.0 <= done.score <= 1.0
    finally:
        daemon.stop()


def test_verify_refuses_an_intent_that_changed_its_id(tmp_path: Path, musectl: str, fixtures: Path) -> None:
    serving = example_generation(fixtures, generation=3).build(tmp_path / "gen3.muse", musectl=musectl)
    moved = Generation(4, created_at=1764000000)
    moved.add_model("cnp-lgb", fixtures / "deep.lgb.txt")
    moved.add_predictor("cnp-v1", "cnp-lgb")
    moved.add_intent("card-not-present", id=9, features=CNP)
    moved.add_route("bank-a", "card-not-present", "cnp-v1")
    candidate = moved.build(tmp_path / "gen4.muse", musectl=musectl)
    assert snapshot.verify(candidate.path, musectl=musectl).startswith("ok: generation 4")
    assert candidate.notes  # the route has no score map
    with pytest.raises(SnapshotError) as refused:
        snapshot.verify(candidate.path, against=serving.path, musectl=musectl)
    assert "card-not-present" in str(refused.value) and refused.value.returncode != 0
    assert snapshot.verify(candidate.path, against=serving.path, allow_schema_change=True,
                           musectl=musectl).startswith("ok: generation 4")


def test_refusals_name_the_reason(tmp_path: Path, musectl: str, fixtures: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    gen = Generation(5)
    gen.add_model("m", fixtures / "deep.lgb.txt")
    gen.add_predictor("p", "m")
    gen.add_intent("card-not-present", id=1, features=CNP)
    gen.add_route("bank-a", "card-not-present", "no-such-predictor")
    with pytest.raises(SnapshotError) as refused:
        gen.build(tmp_path / "bad.muse", musectl=musectl)
    assert "no-such-predictor" in str(refused.value)
    assert not (tmp_path / "bad.muse").exists()

    # Features that are not the model's, in the model's order.
    wrong = Generation(6)
    wrong.add_model("m", fixtures / "deep.lgb.txt")
    wrong.add_predictor("p", "m")
    wrong.add_intent("card-not-present", id=1, features=list(reversed(CNP)))
    wrong.add_route("bank-a", "card-not-present", "p")
    with pytest.raises(SnapshotError):
        wrong.build(tmp_path / "wrong.muse", musectl=musectl)

    # musectl from MUSE_MUSECTL, else PATH.
    good = Generation(7)
    good.add_model("m", fixtures / "deep.lgb.txt")
    good.add_predictor("p", "m")
    good.add_intent("card-not-present", id=1, features=CNP)
    good.add_route("bank-a", "card-not-present", "p")
    monkeypatch.setenv("MUSE_MUSECTL", musectl)
    built = good.build(tmp_path / "good.muse")
    monkeypatch.delenv("MUSE_MUSECTL")
    monkeypatch.setenv("PATH", str(Path(musectl).parent))
    assert snapshot.verify(built.path).startswith("ok: generation 7")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SnapshotError, match="not found on PATH"):
        snapshot.verify(built.path)
    with pytest.raises(SnapshotError, match="not an executable musectl"):
        snapshot.verify(built.path, musectl=tmp_path / "nothing-here")

    # A damaged file is refused by verify.
    data = bytearray(built.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.muse"
    damaged.write_bytes(bytes(data))
    with pytest.raises(SnapshotError) as corrupt:
        snapshot.verify(damaged, musectl=musectl)
    assert corrupt.value.returncode != 0 and corrupt.value.output

    # Mistakes caught before musectl runs.
    with pytest.raises(TypeError):
        good.add_model("n", object())
    with pytest.raises(ValueError):
        good.add_model("m", fixtures / "deep.lgb.txt")
    with pytest.raises(ValueError):
        good.add_model("x", fixtures / "deep.lgb.txt", negative_sampling_rate=0.1, training_prior=0.1,
                       serving_prior=0.2)
    with pytest.raises(ValueError):
        good.fit_maps_from_scores("p", {"bank-a": [0.1, float("nan")]})
    with pytest.raises(ValueError):
        good.add_route("bank a", "card-not-present", "p")
    with pytest.raises(ValueError):
        Generation(8).write(tmp_path / "empty")
