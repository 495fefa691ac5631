"""bench.claims runs end to end on a few texts and reports both baselines (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import claims as bench_claims


def test_claims_benchmark_reports_extraction_against_both_baselines(models_dir: Path, tmp_path: Path,
                                                                    capsys) -> None:
    out = tmp_path / "claims.json"
    code = bench_claims.main(["--models-dir", str(models_dir), "--limit", "12", "--rounds", "1", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["texts"] == 12
    for key in ("extract", "route", "answer", "extract_vs_route", "extract_vs_answer", "meets_target"):
        assert key in report
    assert "Target: at most 20%" in capsys.readouterr().out
