"""Train a model, turn it into a Muse generation, check it: the data
scientist's side of a release.

A LightGBM model is trained on negatives kept at 10% (so level 1 corrects its
probabilities back), an XGBoost model rides along as a shadow, and each
tenant's score map is fitted from that tenant's own events. The result is a
snapshot file an operator swaps in with `musectl swap FILE --gate`.

    pip install muse-scorer lightgbm xgboost pandas
    python build_generation.py gen2.muse [--generation 2] [--against gen1.muse] [--musectl PATH]

musectl comes from --musectl, else MUSE_MUSECTL, else PATH.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import xgboost

from muse.snapshot import Generation, inspect, verify

FEATURES = ["amount", "merchant_risk", "velocity_1h", "account_age_days", "distance_km"]


def events(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """Synthetic card-not-present events; `shift` makes a tenant's traffic its own."""
    frame = pd.DataFrame({
        "amount": rng.lognormal(3.5 + shift, 1.0, n),
        "merchant_risk": rng.beta(2, 8 - 4 * shift, n),
        "velocity_1h": rng.poisson(1 + 2 * shift, n).astype(float),
        "account_age_days": rng.exponential(400, n),
        "distance_km": rng.exponential(30 + 40 * shift, n),
    })
    frame.loc[rng.random(n) < 0.05, "distance_km"] = np.nan   # missing values are fine
    return frame


def fraud(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    margin = (-6 + 0.4 * np.log(frame["amount"]) + 5 * frame["merchant_risk"] + 0.3 * frame["velocity_1h"]
              - 0.002 * frame["account_age_days"])
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-margin))).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--generation", type=int, default=1)
    parser.add_argument("--against", type=Path, help="the serving generation's snapshot, for the schema check")
    parser.add_argument("--musectl", help="musectl to run (default: MUSE_MUSECTL, else PATH)")
    parser.add_argument("--keep", type=Path, help="keep the manifest and its files in this directory")
    args = parser.parse_args()
    rng = np.random.default_rng(args.generation)

    # Training data with 10% of the negatives kept: level 1 undoes that.
    train = events(rng, 60_000, shift=0.3)
    label = fraud(rng, train)
    keep = (label == 1) | (rng.random(len(label)) < 0.1)
    train, label = train[keep], label[keep]
    gbdt = lightgbm.train({"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "verbose": -1},
                          lightgbm.Dataset(train, label), num_boost_round=100)
    shadow = xgboost.train({"objective": "binary:logistic", "max_depth": 4},
                           xgboost.DMatrix(train, label), num_boost_round=60)

    gen = Generation(args.generation, description=f"card-not-present models, generation {args.generation}")
    gen.add_model("cnp-gbdt", gbdt, negative_sampling_rate=0.1)
    gen.add_model("cnp-xgb", shadow, negative_sampling_rate=0.1)
    gen.add_predictor("cnp-main", "cnp-gbdt")
    gen.add_predictor("cnp-shadow", "cnp-xgb")
    # The order clients lay features out in; the models' own names match them.
    assert gbdt.feature_name() == FEATURES
    gen.add_intent("card-not-present", id=1, features=FEATURES, canary_rows=events(rng, 64, shift=0.0))
    # Each tenant's map from a sample of its own traffic, onto Beta(2,5).
    tenants = {"acme": events(rng, 20_000, shift=0.0), "globex": events(rng, 20_000, shift=0.6)}
    for predictor in ("cnp-main", "cnp-shadow"):
        gen.fit_maps_from_rows(predictor, tenants, reference="beta:2,5", knots=201)
    for tenant in tenants:
        gen.add_route(tenant, "card-not-present", "cnp-main", shadows=["cnp-shadow"])

    result = gen.build(args.output, musectl=args.musectl, workdir=args.keep)
    print(result.summary)
    for note in result.notes:
        print("note:", note)
    print(verify(result.path, against=args.against, musectl=args.musectl))
    summary = inspect(result.path, musectl=args.musectl)
    for m in summary["maps"]:
        print(f"map {m['predictor']}/{m['tenant']}: {m.get('knots')} knots onto {m['reference']}")


if __name__ == "__main__":
    main()
