"""Build a Muse generation from Python: models, intents, routes and score maps
into one snapshot file that mused serves (``musectl swap``).

A generation is described by a TOML manifest (docs/snapshot-format.md in the
Muse repository) and built by ``musectl snapshot build``, which imports the
models, fits the score maps, scores canary events and checks everything a
swap would. :class:`Generation` writes that manifest, with the files it names,
from what a data scientist has at hand — LightGBM or XGBoost boosters (or their
model files), feature names, per-tenant score samples or rows — and calls
musectl on it::

    from muse.snapshot import Generation, verify

    gen = Generation(7, description="card models retrained on March data")
    gen.add_model("cnp-gbdt", booster, negative_sampling_rate=0.1)   # lightgbm.Booster, xgboost.Booster or a path
    gen.add_predictor("cnp-v7", "cnp-gbdt")
    gen.add_intent("card-not-present", id=1, features=booster.feature_name())
    gen.fit_maps_from_rows("cnp-v7", {"acme": acme_frame, "globex": globex_frame}, reference="beta:2,5")
    gen.add_route("acme", "card-not-present", "cnp-v7")
    gen.add_route("globex", "card-not-present", "cnp-v7")
    result = gen.build("gen7.muse")                  # musectl on PATH, or MUSE_MUSECTL, or musectl=...
    verify(result.path, against="gen6.muse")         # the schema check a swap makes

Neither LightGBM nor XGBoost is needed by this module: a booster is used through
``model_to_string()`` (LightGBM: text format) or ``save_model(path)`` (XGBoost:
JSON, chosen by the ``.json`` name); scikit-learn wrappers are unwrapped
through ``booster_`` (LightGBM) or ``get_booster()`` (XGBoost).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

__all__ = ["Generation", "BuildResult", "SnapshotError", "build", "verify", "inspect", "find_musectl"]

PathLike = Union[str, "os.PathLike[str]"]
#: A model: a path to a LightGBM text, XGBoost JSON or Muse logistic JSON
#: file, or a booster object (see the module's documentation).
ModelLike = Any
#: Events with named features: a CSV path (header of feature names), a mapping
#: of feature name to a column of values, or a DataFrame-like object (with
#: ``columns`` and ``to_numpy``). NaN is a missing value.
RowsLike = Any


class SnapshotError(Exception):
    """musectl could not be found, or refused: ``returncode`` and ``output``
    (its standard error, else standard output) say why."""

    def __init__(self, message: str, returncode: Optional[int] = None, output: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.output = output


@dataclass(frozen=True)
class BuildResult:
    """A snapshot musectl wrote and loaded back."""

    path: Path
    generation: int
    #: musectl's report ("wrote PATH: generation N, ... bytes, ... canaries").
    summary: str
    #: musectl's notes, e.g. routes that have no score map.
    notes: list[str] = field(default_factory=list)


def find_musectl(musectl: Optional[PathLike] = None) -> str:
    """The musectl to run: ``musectl`` if given, else $MUSE_MUSECTL, else
    ``musectl`` on PATH. Raises SnapshotError if none is executable."""
    if musectl is not None:
        candidate, source = os.fspath(musectl), "the musectl argument"
    elif os.environ.get("MUSE_MUSECTL"):
        candidate, source = os.environ["MUSE_MUSECTL"], "MUSE_MUSECTL"
    else:
        found = shutil.which("musectl")
        if found is None:
            raise SnapshotError("musectl not found on PATH: install Muse (tools/install), set MUSE_MUSECTL, "
                                "or pass musectl=/path/to/musectl")
        return found
    resolved = shutil.which(candidate) if os.sep not in candidate else candidate
    if resolved is None or not os.access(resolved, os.X_OK) or os.path.isdir(resolved):
        raise SnapshotError(f"{source} names {candidate!r}, which is not an executable musectl")
    return resolved


def _run(musectl: Optional[PathLike], *args: str) -> str:
    command = [find_musectl(musectl), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip()).removeprefix("Error: ")
        raise SnapshotError(f"musectl {' '.join(args[:2])} failed: {why}", done.returncode, why)
    return done.stdout


def build(manifest: PathLike, output: PathLike, *, musectl: Optional[PathLike] = None) -> BuildResult:
    """``musectl snapshot build MANIFEST -o OUTPUT`` on an existing manifest.
    Raises SnapshotError with musectl's reason if it refuses."""
    stdout = _run(musectl, "snapshot", "build", os.fspath(manifest), "-o", os.fspath(output))
    lines = stdout.splitlines()
    summary = next((line for line in lines if line.startswith("wrote ")), stdout.strip())
    match = re.search(r": generation ([0-9]+),", summary)
    return BuildResult(path=Path(output), generation=int(match.group(1)) if match else -1, summary=summary,
                       notes=[line[len("note: "):] for line in lines if line.startswith("note: ")])


def verify(snapshot: PathLike, *, against: Optional[PathLike] = None, allow_schema_change: bool = False,
           musectl: Optional[PathLike] = None) -> str:
    """``musectl snapshot verify``: loads the snapshot as mused would (checksums,
    models, maps, routes, canaries reproduced bit for bit) and, with
    ``against`` (the serving generation's snapshot), checks that every intent
    kept its id and feature names. Returns musectl's "ok: ..." line; raises
    SnapshotError naming the reason if the snapshot is refused."""
    args = ["snapshot", "verify", os.fspath(snapshot)]
    if against is not None:
        args += ["--against", os.fspath(against)]
    if allow_schema_change:
        args.append("--allow-schema-change")
    return _run(musectl, *args).strip()


def inspect(snapshot: PathLike, *, musectl: Optional[PathLike] = None) -> dict[str, Any]:
    """``musectl snapshot inspect --json``: the snapshot's header, sections,
    models, predictors, intents, routes and maps as a dict."""
    parsed: dict[str, Any] = json.loads(_run(musectl, "snapshot", "inspect", os.fspath(snapshot), "--json"))
    return parsed


# ---------------------------------------------------------------------------
# The manifest

_NAME = re.compile(r"[^\s,#\"]+")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{kind} name {name!r}: give a non-empty name without spaces, commas, '#' or quotes")
    return name


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's; DEL is the one control character JSON leaves as it is.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be written to a manifest (finite numbers only)")
        return repr(float(value))
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a manifest")


def _toml_table(header: str, values: Mapping[str, object]) -> str:
    lines = [header]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]


def _write_model(model: ModelLike, directory: Path, stem: str) -> Path:
    """The model as a file musectl reads: a path as it is, a booster saved into directory."""
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"model file {os.fspath(model)!r} does not exist")
        return path
    unwrapped = model
    if hasattr(unwrapped, "booster_"):            # lightgbm.LGBMModel (scikit-learn API), fitted
        unwrapped = unwrapped.booster_
    elif hasattr(unwrapped, "get_booster"):       # xgboost.XGBModel (scikit-learn API)
        unwrapped = unwrapped.get_booster()
    if hasattr(unwrapped, "model_to_string"):     # lightgbm.Booster: its text format
        path = directory / f"{stem}.lgb.txt"
        path.write_text(unwrapped.model_to_string())
        return path
    if hasattr(unwrapped, "save_model"):          # xgboost.Booster: JSON, chosen by the file name
        path = directory / f"{stem}.xgb.json"
        unwrapped.save_model(str(path))
        return path
    raise TypeError(f"{type(model).__name__} is not a model Muse reads: give a path to a LightGBM text or XGBoost "
                    "JSON model, a lightgbm or xgboost Booster, or their scikit-learn estimators")


def _columns(rows: RowsLike) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Feature names and an (n, features) float64 array from a mapping of
    columns or a DataFrame-like object."""
    if isinstance(rows, Mapping):
        names = [str(k) for k in rows]
        columns = [np.asarray(v, dtype=np.float64) for v in rows.values()]
        if not columns:
            raise ValueError("rows have no columns")
        if any(c.ndim != 1 or len(c) != len(columns[0]) for c in columns):
            raise ValueError("each column must be one-dimensional, all of one length")
        values = np.column_stack(columns)
    elif hasattr(rows, "columns") and hasattr(rows, "to_numpy"):
        names = [str(c) for c in rows.columns]
        values = np.asarray(rows.to_numpy(dtype=np.float64), dtype=np.float64)
    else:
        raise TypeError(f"rows must be a CSV path, a mapping of feature name to column, or a DataFrame, "
                        f"not {type(rows).__name__} (for an array X with names: dict(zip(names, X.T)))")
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ValueError(f"rows have {len(names)} names but shape {values.shape}")
    for name in names:
        if not name or any(c in name for c in ",\n\r\""):
            raise ValueError(f"feature name {name!r} cannot be a CSV column (no commas, quotes or newlines)")
    return names, values


def _write_rows(rows: RowsLike, path: Path) -> Path:
    """Rows as the CSV musectl reads: a header of feature names, a missing value as nan."""
    if isinstance(rows, (str, os.PathLike)):
        source = Path(rows).resolve()
        if not source.is_file():
            raise FileNotFoundError(f"rows file {os.fspath(rows)!r} does not exist")
        return source
    names, values = _columns(rows)
    # %.17g keeps every double exact, so the maps are fitted on the very values given.
    np.savetxt(path, values, fmt="%.17g", delimiter=",", header=",".join(names), comments="")
    return path


@dataclass
class _Map:
    predictor: Optional[str] = None
    file: Optional[Path] = None
    scores: Optional[dict[str, npt.NDArray[np.float64]]] = None
    rows: Optional[dict[str, RowsLike]] = None
    reference: Optional[str] = None
    knots: Optional[int] = None
    min_samples: Optional[int] = None


class Generation:
    """A generation to build: models, predictors, intents, routes, score maps
    and canary settings, as in the manifest of docs/snapshot-format.md. Add
    what it holds, then :meth:`build` it (or :meth:`write` the manifest and
    its files to a directory, to keep or to build with musectl by hand).

    ``generation`` is the id completions and ``musectl status`` show (one id
    must always mean one content: give each build its own). ``created_at``
    (Unix seconds) defaults to the build's time; fix it for byte-identical
    rebuilds."""

    def __init__(self, generation: int, *, description: Optional[str] = None,
                 created_at: Optional[int] = None) -> None:
        if not isinstance(generation, int) or not 0 <= generation < 1 << 64:
            raise ValueError(f"generation must be an integer 0 to 2**64-1, got {generation!r}")
        self.generation = generation
        self.description = description
        self.created_at = created_at
        self._models: dict[str, tuple[ModelLike, dict[str, Optional[float]]]] = {}
        self._predictors: dict[str, dict[str, object]] = {}
        self._intents: dict[str, tuple[int, list[str], Optional[RowsLike]]] = {}
        self._routes: list[dict[str, object]] = []
        self._maps: list[_Map] = []
        self._canaries: dict[str, Optional[int]] = {}

    def add_model(self, name: str, model: ModelLike, *, negative_sampling_rate: Optional[float] = None,
                  training_prior: Optional[float] = None, serving_prior: Optional[float] = None) -> None:
        """A model, by name. ``model`` is a lightgbm/xgboost Booster (or
        scikit-learn estimator) or a path to a LightGBM text, XGBoost JSON or
        Muse logistic JSON file. Level 1 (posterior correction): the
        ``negative_sampling_rate`` the training data's negatives were kept at,
        or ``training_prior`` with ``serving_prior``; neither: none."""
        _check_name("model", name)
        if name in self._models:
            raise ValueError(f"model {name!r} is already defined")
        if negative_sampling_rate is not None and (training_prior is not None or serving_prior is not None):
            raise ValueError(f"model {name!r}: give negative_sampling_rate, or training_prior with serving_prior")
        if (training_prior is None) != (serving_prior is None):
            raise ValueError(f"model {name!r}: training_prior and serving_prior go together")
        if not isinstance(model, (str, os.PathLike)) and not any(
                hasattr(model, a) for a in ("model_to_string", "save_model", "booster_", "get_booster")):
            raise TypeError(f"model {name!r}: {type(model).__name__} is neither a path nor a LightGBM/XGBoost booster")
        self._models[name] = (model, {"negative_sampling_rate": negative_sampling_rate,
                                      "training_prior": training_prior, "serving_prior": serving_prior})

    def add_predictor(self, name: str, models: Union[str, Sequence[str]],
                      weights: Optional[Sequence[float]] = None) -> None:
        """A predictor: one model, or the weighted average of several that take
        the same features (``weights`` default to equal; they are normalized)."""
        _check_name("predictor", name)
        if name in self._predictors:
            raise ValueError(f"predictor {name!r} is already defined")
        members = [models] if isinstance(models, str) else list(models)
        if not members:
            raise ValueError(f"predictor {name!r} needs at least one model")
        if weights is not None and len(weights) != len(members):
            raise ValueError(f"predictor {name!r}: {len(members)} models but {len(weights)} weights")
        self._predictors[name] = {"models": members,
                                  "weights": None if weights is None else [float(w) for w in weights]}

    def add_intent(self, name: str, id: int, features: Sequence[str], *,
                   canary_rows: Optional[RowsLike] = None) -> None:
        """An intent: muse.h's intent id clients send, and its feature names in
        the order clients lay them out (what ``Client.intent(name)`` shows
        them). ``canary_rows`` (rows, as for maps) supplies the canary events
        scored at build and on every load; without it they are generated."""
        _check_name("intent", name)
        if name in self._intents:
            raise ValueError(f"intent {name!r} is already defined")
        names = [str(f) for f in features]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"intent {name!r}: give its feature names, each once")
        self._intents[name] = (int(id), names, canary_rows)

    def add_route(self, tenant: str, intent: str, predictor: str, *, shadows: Sequence[str] = ()) -> None:
        """Routes a tenant's events of an intent to a predictor; ``shadows``
        score the same events after the answer, for ``musectl status`` and
        ``swap --gate``."""
        self._routes.append({"tenant": _check_name("tenant", tenant), "intent": intent, "predictor": predictor,
                             "shadows": list(shadows) or None})

    def fit_maps_from_rows(self, predictor: str, rows: Mapping[str, RowsLike], *, reference: str = "uniform",
                           knots: Optional[int] = None, min_samples: Optional[int] = None) -> None:
        """Fits the predictor's score maps from events it scores: ``rows`` maps
        each tenant to its events (a CSV path, a mapping of feature name to
        column, or a DataFrame; columns are matched to the predictor's
        features by name, extra ones ignored). ``reference``: ``uniform`` or
        ``beta:A,B``; ``knots`` (default 1001); a tenant with fewer than
        ``min_samples`` events (default 1000) gets the pooled map."""
        if not rows:
            raise ValueError("give each tenant's rows")
        self._maps.append(_Map(predictor=predictor, rows={_check_name("tenant", t): r for t, r in rows.items()},
                               reference=reference, knots=knots, min_samples=min_samples))

    def fit_maps_from_scores(self, predictor: str, scores: Mapping[str, npt.ArrayLike], *,
                             reference: str = "uniform", knots: Optional[int] = None,
                             min_samples: Optional[int] = None) -> None:
        """Fits the predictor's score maps from score samples: ``scores`` maps
        each tenant to the predictor's scores on that tenant's traffic, on its
        posterior scale (after level 1: a model trained on subsampled
        negatives gives scores that need the correction first; fitting from
        rows avoids the question). Options as :meth:`fit_maps_from_rows`."""
        samples: dict[str, npt.NDArray[np.float64]] = {}
        for tenant, values in scores.items():
            array = np.asarray(values, dtype=np.float64).ravel()
            if array.size == 0 or not np.isfinite(array).all():
                raise ValueError(f"tenant {tenant!r}: scores must be finite, and at least one")
            samples[_check_name("tenant", tenant)] = array
        if not samples:
            raise ValueError("give each tenant's scores")
        self._maps.append(_Map(predictor=predictor, scores=samples, reference=reference, knots=knots,
                               min_samples=min_samples))

    def add_map_file(self, path: PathLike) -> None:
        """Maps already fitted: a muse-score-maps file (``musectl transform fit``
        writes them; docs/score-transformation.md)."""
        self._maps.append(_Map(file=Path(path).resolve()))

    def set_canaries(self, per_route: Optional[int] = None, seed: Optional[int] = None) -> None:
        """Canary events per route (default 4) and the seed of generated ones (default 0)."""
        self._canaries = {"per_route": per_route, "seed": seed}

    def write(self, directory: PathLike) -> Path:
        """Writes manifest.toml into ``directory`` (created if needed), with the
        boosters' model files and the maps' and canaries' data in data/
        (named relative to the manifest, so the directory can be moved);
        model and data files given as paths are named where they are
        (absolute). Returns the manifest's path."""
        for what, table in (("model", self._models), ("predictor", self._predictors), ("intent", self._intents),
                            ("route", self._routes)):
            if not table:
                raise ValueError(f"a generation needs at least one {what}")
        root = Path(directory).resolve()
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)

        def named(path: Path) -> str:
            return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

        parts = ["# Written by muse.snapshot.Generation; format: docs/snapshot-format.md (Muse).\n"
                 + _toml_table("", {"generation": self.generation, "description": self.description,
                                    "created_at": self.created_at}).lstrip("\n")]
        for i, (name, (model, level1)) in enumerate(self._models.items()):
            path = _write_model(model, data, f"model-{i}-{_slug(name)}")
            parts.append(_toml_table(f"[models.{_toml_key(name)}]", {"file": named(path), **level1}))
        for name, predictor in self._predictors.items():
            parts.append(_toml_table(f"[predictors.{_toml_key(name)}]", predictor))
        for i, spec in enumerate(self._maps):
            values: dict[str, object] = {"predictor": spec.predictor}
            if spec.file is not None:
                values["file"] = named(spec.file)
            elif spec.scores is not None:
                path = data / f"map-{i}-scores.txt"
                with open(path, "w") as out:
                    for tenant, array in spec.scores.items():
                        out.writelines(f"{tenant} {v!r}\n" for v in array.tolist())
                values["scores"] = named(path)
            elif spec.rows is not None:
                values["rows"] = {tenant: named(_write_rows(r, data / f"map-{i}-{_slug(tenant)}.csv"))
                                  for tenant, r in spec.rows.items()}
            values.update(reference=spec.reference if spec.file is None else None, knots=spec.knots,
                          min_samples=spec.min_samples)
            parts.append(_toml_table("[[maps]]", values))
        for i, (name, (intent_id, features, canary_rows)) in enumerate(self._intents.items()):
            canaries = None if canary_rows is None else named(
                _write_rows(canary_rows, data / f"canaries-{i}-{_slug(name)}.csv"))
            parts.append(_toml_table(f"[intents.{_toml_key(name)}]",
                                     {"id": intent_id, "features": features, "canary_rows": canaries}))
        for route in self._routes:
            parts.append(_toml_table("[[routes]]", route))
        if any(v is not None for v in self._canaries.values()):
            parts.append(_toml_table("[canaries]", self._canaries))
        manifest = root / "manifest.toml"
        manifest.write_text("\n".join(parts))
        return manifest

    def build(self, output: PathLike, *, musectl: Optional[PathLike] = None,
              workdir: Optional[PathLike] = None) -> BuildResult:
        """Writes the manifest (into ``workdir``, kept; else a temporary
        directory, removed) and runs ``musectl snapshot build`` on it, which
        writes ``output`` and loads it back. Raises SnapshotError with
        musectl's reason if it refuses (an unknown predictor, a model whose
        features are not the intent's, a map that cannot be fitted...)."""
        output = Path(output).resolve()
        if workdir is not None:
            return build(self.write(workdir), output, musectl=musectl)
        with tempfile.TemporaryDirectory(prefix="muse-generation-") as scratch:
            return build(self.write(scratch), output, musectl=musectl)
