"""The load generator (bench/loadgen.py): a short open-loop run with a spike against its own `triage serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.loadgen import KINDS, check_webhooks_in_db, percentile
from triage.store import Store

from .conftest import ROOT

RUN_TIMEOUT = 180.0  # the run itself is 11 s; the rest is starting the server and a safety margin


@pytest.mark.slow
def test_short_load_run_has_no_errors_and_loses_no_event(trained_models: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--start-server", "--models-dir", str(trained_models),
         "--rate", "50", "--duration", "8", "--spike-rate", "200", "--spike-duration", "3",
         "--json-out", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert re.search(r"^unexpected errors: 0$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^lost events: 0$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^result: OK$", proc.stdout, re.M), proc.stdout

    report = json.loads(out_json.read_text(encoding="utf-8"))
    total = report["summary"]["all"]
    assert total["scheduled"] == 50 * 8 + 200 * 3
    assert total["unexpected"] == 0 and total["errors"] == {}
    # Every kind of traffic was really sent and answered with its success status.
    expected = {"web": "200", "classify": "201", "batch": "200", "webhook": "200"}
    for kind in KINDS:
        k = report["summary"]["kinds"][kind]
        assert k["sent"] > 0 and set(k["statuses"]) == {expected[kind]}, (kind, k)
    hooks = report["webhooks"]
    assert hooks["method"] == "database"
    assert hooks["acknowledged"] == report["summary"]["kinds"]["webhook"]["sent"] > 0
    assert hooks["stored"] == hooks["acknowledged"]
    assert hooks["lost"] == hooks["doubled"] == hooks["mismatched"] == hooks["answered_duplicate"] == 0
    assert report["server"]["alive"] and report["server"]["workers_after"] == report["server"]["workers_before"]


def test_webhook_check_finds_lost_and_mismatched_events(tmp_path: Path) -> None:
    """The no-lost-event check is not vacuous: an acknowledged id missing from the database is reported."""
    db = tmp_path / "t.sqlite"
    store = Store(f"sqlite:///{db}")
    try:
        store.create_schema()
        fields = {"source": "webhook", "text": "t", "label": "faq", "confidence": 0.9, "probabilities": {},
                  "model_version": "v"}
        kept, _ = store.add_inquiry(external_id="load-r1-0", **fields)
        other, _ = store.add_inquiry(external_id="load-r1-1", **fields)
        store.add_inquiry(external_id="load-r2-0", **fields)  # another run: ignored
    finally:
        store.engine.dispose()
    result = check_webhooks_in_db(db, "r1", {"load-r1-0": kept.id, "load-r1-1": kept.id, "load-r1-2": 99})
    assert result["lost"] == ["load-r1-2"]
    assert result["mismatched"] == ["load-r1-1"]
    assert result["doubled"] == [] and result["stored"] == 2 and result["stored_without_ack"] == 0
    assert other.id != kept.id


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) != percentile([], 50)  # NaN
