"""Benchmark: push N records and pull N responses through semisynth vs the raw Argilla SDK, on the
local stack; plus agreement + export of 100k responses (no server).

    flock /tmp/semisynth-heavy.lock .venv/bin/python bench/argilla.py --n 10000
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

# this file is named argilla.py: keep its folder off sys.path so `import argilla` finds the SDK
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
os.environ.setdefault("TQDM_DISABLE", "1")

logging.getLogger("argilla.sdk").setLevel(logging.ERROR)


def items(n: int, prefix: str):
    from semisynth.preference.curation import preference_item
    from semisynth.records import Lineage, Record

    out = []
    for i in range(n):
        p = Record.create("synthetic", text=f"{prefix} prompt {i}: where is my bag?", language="en",
                          lineage=Lineage(model="tiny", seed=i))
        out.append(preference_item(p, [{"text": f"answer A {i}", "model": "a"}, {"text": f"answer B {i}", "model": "b"}]))
    return out


def bench_server(n: int, state: Path) -> dict:
    import argilla as rg

    from semisynth.preference import curation
    from semisynth.preference.client import Connection
    from semisynth.preference.stack import LocalStack

    stack = LocalStack(state)
    stack.up()
    try:
        conn = Connection(stack.url(), stack.credentials()["api_key"])
        conn.check()
        its = items(n, "ours")
        assign = curation.assign(its, ["b1", "b2", "b3"], 1)
        settings = curation.dataset_settings("preference", 2, min_submitted=1)
        t = time.perf_counter()  # one copy per rater queue (their own workspace), k=1: n records in all
        curation.push(conn, "bench-ours", settings, its, assign, state / "ledger.txt", batch_size=256)
        ours_push = n / (time.perf_counter() - t)

        raw_items = items(n, "raw")
        raw_ds = rg.Dataset(name="bench-raw", workspace=conn.workspace, client=conn.sdk(),
                            settings=curation.dataset_settings("preference", 2, min_submitted=1)).create()
        recs = [curation.to_argilla_record(it, ["b1"], False)
                for it in raw_items]  # same fields and metadata
        t = time.perf_counter()
        raw_ds.records.log(recs, batch_size=256)
        raw_push = n / (time.perf_counter() - t)

        # responses: one per record, added by the owner in bulk (the fast path; raters are too slow to bench)
        user_id = conn.http().get("/api/v1/me").json()["id"]
        copies = [conn.sdk().datasets(name="bench-ours", workspace=conn.rater_workspace(r)) for r in ("b1", "b2", "b3")]
        for d in (*copies, raw_ds):
            with_resp = [rg.Record(id=r.id, fields=r.fields, metadata=r.metadata,
                                   responses=[rg.Response("verdict", "tie", user_id=user_id, status="submitted")])
                         for r in d.records(batch_size=1000)]
            d.records.log(with_resp, batch_size=256)
        t = time.perf_counter()
        pulled = curation.pull(conn, "bench-ours")
        ours_pull = len(pulled.annotations) / (time.perf_counter() - t)
        t = time.perf_counter()
        m = sum(len(r.responses) for r in raw_ds.records(with_responses=True, batch_size=1000))
        raw_pull = m / (time.perf_counter() - t)
        return {"n": n, "push_rps": round(ours_push, 1), "raw_push_rps": round(raw_push, 1),
                "push_ratio": round(ours_push / raw_push, 3), "pull_rps": round(ours_pull, 1),
                "raw_pull_rps": round(raw_pull, 1), "pull_ratio": round(ours_pull / raw_pull, 3),
                "responses_pulled": len(pulled.annotations)}
    finally:
        stack.down()


def bench_offline(n_responses: int = 100_000) -> dict:
    import random

    from semisynth.preference.consensus import Policy, resolve
    from semisynth.preference.curation import Annotation
    from semisynth.preference.export import export
    from semisynth.preference.report import build_report

    n_items = n_responses // 3
    its = {it.id: it for it in items(n_items, "off")}
    rng = random.Random(0)
    anns = []
    for iid in its:
        for u in ("u1", "u2", "u3"):
            best = "response_1" if rng.random() < 0.85 else "response_2"
            other = "response_2" if best == "response_1" else "response_1"
            anns.append(Annotation(iid, u, {"verdict": "ranked", "confidence": 4,
                                            "ranking": [{"value": best, "rank": 1}, {"value": other, "rank": 2}]}))
    t = time.perf_counter()
    res = resolve(its, anns, Policy())
    build_report("preference", its, anns, res, n_boot=200)
    with tempfile.TemporaryDirectory() as d:
        m = export("dpo", its, res, Policy(), d)
    return {"responses": len(anns), "agreement_and_export_s": round(time.perf_counter() - t, 2), "dpo_rows": m["rows"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--skip-server", action="store_true")
    args = ap.parse_args()
    print(bench_offline())
    if not args.skip_server:
        with tempfile.TemporaryDirectory() as d:
            print(bench_server(args.n, Path(d)))
