"""Python client benchmarks against a running mused (see clients.sh).

Round trip with one event in flight (16 features, Channel.score: one call
into C per event), and batch throughput with NumPy arrays
(Channel.score_batch: submission, polling and placement all in C).
Usage: client_python.py DIR TENANT ROUND_TRIPS BATCH_EVENTS
"""
import sys
import time

import numpy as np

import muse


def main() -> None:
    runtime_dir, tenant = sys.argv[1], sys.argv[2]
    round_trips, batch_events = int(sys.argv[3]), int(sys.argv[4])
    with muse.Client(tenant, runtime_dir) as client:
        intent = client.intent("card-not-present")
        with client.channel() as ch:
            x = np.full(16, 0.01)
            samples = np.empty(round_trips, dtype=np.int64)
            clock = time.perf_counter_ns
            for i in range(round_trips // 10):
                ch.score(intent, x)
            for i in range(round_trips):
                start = clock()
                ch.score(intent, x)
                samples[i] = clock() - start
            samples.sort()
            p = lambda q: samples[int(len(samples) * q)] / 1e3
            print(f"python_roundtrip events={round_trips} p50_us={p(0.5):.3f} p90_us={p(0.9):.3f} "
                  f"p99_us={p(0.99):.3f} p999_us={p(0.999):.3f}")
            # A dict by name costs a vector build per event: measured apart.
            named = {f"f{i}": 0.01 for i in range(16)}
            n_named = round_trips // 10
            start = clock()
            for i in range(n_named):
                ch.score(intent, named)
            print(f"python_roundtrip_dict events={n_named} mean_us={(clock() - start) / n_named / 1e3:.3f}")
            rows = np.random.default_rng(1).uniform(-0.5, 0.5, size=(min(batch_events, 1_000_000), 16))
            ch.score_batch(intent, rows[:100_000])  # warm-up
            done = 0
            start = clock()
            while done < batch_events:
                chunk = rows[: min(len(rows), batch_events - done)]
                statuses, _ = ch.score_batch(intent, chunk)
                assert (statuses == 0).all()
                done += len(chunk)
            seconds = (clock() - start) / 1e9
            print(f"python_batch events={done} events_per_s={done / seconds:.0f}")


if __name__ == "__main__":
    main()
