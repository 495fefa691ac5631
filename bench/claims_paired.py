"""Claims extraction as a share of a classify answer: another revision's claims.py and this tree's, interleaved.

    python -m bench.claims_paired --models models --base main --rounds 7 [--csv data/test.csv]

The share is what `bench/timings.py` measures (`test_claims_extract` against `test_claims_answer`:
the explained route, FAQ suggestions for faq routes, mean over the inquiries), but the three take turns,
one whole pass over the inquiries each, round after round, so that the load of a shared machine falls on
all alike (a pass, not one inquiry, at a time: run back to back on the same text, the second extractor
would find the first one's data in the caches). Prints each round's share and the median with its spread.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench import ROOT
from triage import claims, dataset
from triage.faq import build, read_entries
from triage.registry import Registry


def _claims_of(ref: str, tmp: Path) -> ModuleType:
    """Return the claims module of a git revision, loaded beside this tree's package."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:triage/claims.py"],
                            check=True, capture_output=True, text=True).stdout
    path = tmp / "claims_base.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("triage.claims_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["triage.claims_base"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Print the claims share of a classify answer, base revision against this tree."""
    ap = argparse.ArgumentParser(prog="python -m bench.claims_paired", description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, required=True, help="a registry with an active version")
    ap.add_argument("--base", default="main", help="the git revision whose triage/claims.py is the baseline")
    ap.add_argument("--csv", type=Path, default=ROOT / "data" / "test.csv", help="the inquiries (column text)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    registry = Registry(str(args.models))
    model = registry.load(registry.active() or "").router
    kb = build(read_entries(ROOT / "data" / "faq.csv"))
    texts = [r.text for r in dataset.read(str(args.csv)).rows]

    def answer(text: str) -> None:
        if model.predict_explained(text)[0].label == "faq":
            kb.suggest(text)

    with tempfile.TemporaryDirectory() as tmp:
        base = _claims_of(args.base, Path(tmp))
        runs: dict[str, Callable[[str], object]] = {"answer": answer, "base": base.extract, "this": claims.extract}
        for text in texts[:100]:  # warm-up: caches, the weights file
            for run in runs.values():
                run(text)
        shares: dict[str, list[float]] = {"base": [], "this": []}
        fastest: dict[str, list[float]] = {"base": [], "this": []}  # the least disturbed pass of each
        for n in range(args.rounds):
            total = dict.fromkeys(runs, 0)
            for name, run in runs.items():
                for text in texts:
                    start = time.perf_counter_ns()
                    run(text)
                    total[name] += time.perf_counter_ns() - start
            for name in shares:
                shares[name].append(total[name] / total["answer"])
                fastest[name].append(total[name] / len(texts) / 1000)
            per = {k: v / len(texts) / 1000 for k, v in total.items()}
            print(f"round {n}: answer {per['answer']:.0f} us, {args.base} {per['base']:.1f} us "
                  f"({shares['base'][-1]:.1%}), this tree {per['this']:.1f} us ({shares['this'][-1]:.1%})")
    for name, label in (("base", args.base), ("this", "this tree")):
        s = shares[name]
        print(f"{label}: median {statistics.median(s):.1%} ({min(s):.1%}-{max(s):.1%}) of a classify answer; "
              f"fastest pass {min(fastest[name]):.1f} us per inquiry ({len(texts)} inquiries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
