from __future__ import annotations

import math
import multiprocessing
import os
import threading

import numpy as np
import pytest

import muse


def expected(x: np.ndarray) -> float:
    """mused's built-in generation exactly: a logistic regression with unit
    coefficients, summed left to right, a missing (NaN) feature imputed as 0,
    then glibc's exp."""
    margin = 0.0
    for v in x:
        if not math.isnan(v):
            margin += float(v)
    return 1 / (1 + math.exp(-margin))


def expected_rows(rows: np.ndarray) -> np.ndarray:
    margins = np.zeros(len(rows))
    for j in range(rows.shape[1]):
        margins += rows[:, j]  # same order as the scorer, not NumPy's pairwise sum
    return np.array([1 / (1 + math.exp(-m)) for m in margins])


def test_intents_and_features_by_name(daemon) -> None:
    with muse.Client("py", daemon.runtime_dir) as client:
        cnp = client.intent("card-not-present")
        assert cnp.feature_count == 16 and cnp.feature_names == tuple(f"f{i}" for i in range(16))
        assert cnp.index("f11") == 11
        cnp.check([f"f{i}" for i in range(16)])
        with pytest.raises(muse.MuseError) as wrong_order:
            cnp.check([f"f{i}" for i in reversed(range(16))])
        assert wrong_order.value.status == muse.Status.SCHEMA_MISMATCH
        with pytest.raises(KeyError):
            cnp.index("amount")
        with pytest.raises(muse.MuseError) as unknown:
            client.intent("wire-transfer")
        assert unknown.value.status == muse.Status.UNKNOWN_INTENT
        # A dict by name: absent features are missing (NaN).
        v = cnp.vector({"f3": 1.5, "f0": -2.0})
        assert v[3] == 1.5 and v[0] == -2.0 and math.isnan(v[1])


def test_round_trip_by_name_and_error_statuses(daemon) -> None:
    with muse.Client("py", daemon.runtime_dir) as client:
        cp = client.intent("card-present")
        with client.channel() as ch:
            features = {f"f{i}": 0.1 * i for i in range(8)}
            done = ch.score(cp, features)
            assert done.ok and done.score == expected(cp.vector(features))
            # Missing features are the model's business: it imputes them.
            missing = ch.score(cp, {"f0": 1.0})
            assert missing.ok and missing.score == expected(cp.vector({"f0": 1.0}))
            # A non-finite result (inf - inf) is an error status, never OK.
            broken = ch.score(cp, {f"f{i}": 0.0 for i in range(8)} | {"f0": math.inf, "f1": -math.inf})
            assert broken.status == muse.Status.BAD_SCORE and math.isnan(broken.score)
            with pytest.raises(ValueError):
                ch.score(cp, np.zeros(5))


def test_submit_poll_wait(daemon) -> None:
    with muse.Client("py", daemon.runtime_dir) as client:
        cnp = client.intent("card-not-present")
        with client.channel() as ch:
            x = np.linspace(-1, 1, 16)
            ch.prepare()  # an event is coming: harmless whatever mused does
            assert ch.submit(cnp, x, tag=7)
            got = []
            while not got:
                got = ch.wait(timeout=1.0)
            assert got[0].tag == 7 and got[0].score == expected(x)
            assert ch.poll() == []
            assert ch.wait(timeout=0.01) == []


@pytest.mark.parametrize("idle", ["adaptive", "busy-spin", "low-power"])
def test_wait_under_each_idle_policy(daemon, idle) -> None:
    with muse.Client("py", daemon.runtime_dir) as client:
        cnp = client.intent("card-not-present")
        with client.channel() as ch:
            for tag in range(100):
                x = np.full(16, tag / 100)
                assert ch.submit(cnp, x, tag=tag)
                got = []
                while not got:
                    got = ch.wait(timeout=1.0, idle=idle)
                assert len(got) == 1 and got[0].tag == tag and got[0].score == expected(x)
            assert ch.wait(timeout=0.01, idle=idle) == []
            with pytest.raises(ValueError):
                ch.wait(timeout=0.01, idle="nap")


def test_batch_with_numpy_arrays(daemon) -> None:
    with muse.Client("py", daemon.runtime_dir) as client:
        cnp = client.intent("card-not-present")
        rng = np.random.default_rng(1)
        rows = rng.uniform(-0.5, 0.5, size=(50_000, 16))
        with client.channel() as ch:
            statuses, scores = ch.score_batch(cnp, rows)
            assert (statuses == 0).all()
            np.testing.assert_array_equal(scores, expected_rows(rows))
            # Lower level: submit what fits, then read the answers as arrays.
            taken = ch.submit_batch(cnp, rows[:500], first_tag=1000)
            assert 0 < taken <= 2 * client.ring_depth
            seen = []
            while sum(len(c) for c in seen) < taken:
                seen.append(ch.poll_batch())
            tags = np.concatenate([c.tags for c in seen])
            np.testing.assert_array_equal(tags, np.arange(1000, 1000 + taken, dtype=np.uint64))


def _exactly_once(runtime_dir: str, client_id: int, count: int, client: "muse.Client | None" = None) -> dict:
    own = client is None
    if own:
        client = muse.Client("py", runtime_dir)
    try:
        cnp = client.intent("card-not-present")
        rng = np.random.default_rng(client_id)
        # The integrator's columns come in its own order, by name; the intent
        # places them where mused expects them.
        mine = [f"f{i}" for i in reversed(range(cnp.feature_count))]
        values = rng.uniform(-0.5, 0.5, size=(count, len(mine)))
        rows = np.empty_like(values)
        rows[:, [cnp.index(name) for name in mine]] = values
        first = client_id << 40
        with client.channel() as ch:
            sent = answered = 0
            seen = np.zeros(count, dtype=np.int64)
            wrong = 0
            while answered < count:
                if sent < count:
                    sent += ch.submit_batch(cnp, rows[sent:sent + 300], first_tag=first + sent)
                done = ch.poll_batch()
                if len(done) == 0:
                    ch_wait = ch.wait(timeout=1.0)
                    if not ch_wait:
                        continue
                    idx = np.array([c.tag - first for c in ch_wait], dtype=np.int64)
                    sc = np.array([c.score for c in ch_wait])
                    st = np.array([int(c.status) for c in ch_wait])
                else:
                    idx = done.tags.astype(np.int64) - first
                    sc, st = done.scores, done.statuses
                foreign = (idx < 0) | (idx >= count)
                wrong += int(foreign.sum())
                idx, sc, st = idx[~foreign], sc[~foreign], st[~foreign]
                np.add.at(seen, idx, 1)
                want = expected_rows(rows[idx])
                wrong += int(((st != 0) | (sc != want)).sum())
                answered += len(idx) + int(foreign.sum())
        return {"duplicates": int((seen > 1).sum()), "lost": int((seen == 0).sum()), "wrong": wrong}
    finally:
        if own:
            client.close()


def test_four_threads_sharing_one_client_exactly_once(daemon) -> None:
    results: list[dict] = [{}] * 4
    with muse.Client("py", daemon.runtime_dir) as client:
        def run(i: int) -> None:
            results[i] = _exactly_once(daemon.runtime_dir, i + 1, 40_000, client)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [{"duplicates": 0, "lost": 0, "wrong": 0}] * 4


def _process_main(runtime_dir: str, client_id: int, queue) -> None:
    queue.put(_exactly_once(runtime_dir, client_id, 40_000))


def test_four_client_processes_exactly_once(daemon) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    processes = [ctx.Process(target=_process_main, args=(daemon.runtime_dir, i + 11, queue)) for i in range(4)]
    for p in processes:
        p.start()
    results = [queue.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert results == [{"duplicates": 0, "lost": 0, "wrong": 0}] * 4


def test_errors_carry_the_status(daemon) -> None:
    with pytest.raises(muse.MuseError) as missing:
        muse.Client("nobody", daemon.runtime_dir)
    assert missing.value.status == muse.Status.SYSTEM and missing.value.errno == 2
    with muse.Client("solo", daemon.runtime_dir) as client:
        first = client.channel()
        with pytest.raises(muse.MuseError) as taken:
            client.channel()
        assert taken.value.status == muse.Status.NO_CHANNEL
        first.release()
        with client.channel():  # reusable at once
            pass


def test_forked_child_cannot_use_the_parents_channel(daemon) -> None:
    with muse.Client("solo", daemon.runtime_dir) as client:
        cp = client.intent("card-present")
        with client.channel() as ch:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    ch.score(cp, np.zeros(8))
                    code = 1
                except muse.MuseError as e:
                    code = 0 if e.status == muse.Status.FORKED else 2
                os.write(write, bytes([code]))
                os._exit(0)
            os.waitpid(pid, 0)
            assert os.read(read, 1) == b"\0"
            assert ch.score(cp, np.zeros(8)).score == 0.5


def test_wait_without_deadline_ends_when_mused_dies(daemon) -> None:
    with muse.Client("solo", daemon.runtime_dir) as client:
        with client.channel() as ch:
            assert client.daemon_alive()
            daemon.kill()
            with pytest.raises(muse.MuseError) as gone:
                ch.wait(timeout=None)
            assert gone.value.status == muse.Status.DAEMON_GONE
            assert not client.daemon_alive()
