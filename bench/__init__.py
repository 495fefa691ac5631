"""Benchmarks of triage: `python -m bench OUTDIR [--quick]` writes OUTDIR/report.md and OUTDIR/results.json.

Everything runs in one command on one model and the same inquiries, and
comparisons are reported as ratios measured in that run: on a small, shared
machine absolute figures move between runs, ratios much less.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shown(path: str | Path) -> str:
    """Return a path as results show it: relative to the repository, else its name (no machine's folders)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else p.name


def own_env(**settings: str) -> dict[str, str]:
    """Return this environment without the caller's TRIAGE_ and PROMETHEUS_ settings, plus these."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "PROMETHEUS_"))}, **settings}
