"""The load generator (bench/loadgen.py): a short open-loop run with a spike against its own `triage serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .conftest import ROOT

RUN_TIMEOUT = 180.0  # the run itself is 11 s; the rest is starting the server and a safety margin


@pytest.mark.slow
def test_short_load_run_has_no_errors_and_loses_no_event(trained_models: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--start-server", "--models-dir", str(trained_models),
         "--rate", "50", "--duration", "8", "--spike-rate", "200", "--spike-duration", "3",
         "--json-out", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert re.search(r"^unexpected errors: 0$", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^lost events: 0$", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^result: OK$", proc.stdout, re.MULTILINE), proc.stdout
    # The exactly-once check is not vacuous: on a corrupted copy it reported the corruption.
    assert re.search(r"^webhook check self-test: OK$", proc.stdout, re.MULTILINE), proc.stdout

    report = json.loads(out_json.read_text(encoding="utf-8"))
    total = report["summary"]
    assert total["scheduled"] == 50 * 8 + 200 * 3
    assert total["unexpected"] == 0 and total["failures"] == {}
    # Every kind of traffic was really sent in every phase (a failure, any other status, is counted above).
    sent = Counter()
    for key, n in total["requests"].items():
        phase, label = key.split(" ", 1)
        assert phase in ("base", "spike", "after"), key
        sent[label] += n
    assert set(sent) == {"POST / (agent form)", "POST /api/v1/classify", "POST /api/v1/classify/batch",
                         "POST /api/v1/webhooks/inquiries"} and min(sent.values()) > 0, sent
    assert sum(sent.values()) == total["sent"] == total["scheduled"] - total["not_sent_in_time"]
    hooks = report["webhooks"]
    assert hooks["method"] == "database"
    assert hooks["acknowledged"] == sent["POST /api/v1/webhooks/inquiries"] > 0
    assert hooks["stored"] == hooks["acknowledged"]
    assert hooks["lost"] == hooks["doubled"] == hooks["mismatched"] == 0
    assert hooks["self_test"] is True
    assert report["server"]["alive"] and report["server"]["workers_after"] == report["server"]["workers_before"]
