"""Training a version end to end: validate, train, evaluate, save, gate, activate."""

from __future__ import annotations

import fcntl
import platform
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

from . import dataset
from .dataset import LABELS
from .export import csv_text
from .model import Progress, Router, metrics, train
from .registry import Registry, RegistryError
from .text import TOKENIZER_VERSION, dictionary_version

# The quality gate: how far a candidate may fall behind the active model.
GATE_MAX_MACRO_F1_DROP = 0.01
GATE_RECALL_LABELS = ("escalation", "compensation")


@dataclass
class GateResult:
    """The quality gate's verdict with the figures behind it."""

    passed: bool
    reasons: list[str]
    candidate: dict[str, Any] | None = None
    active: dict[str, Any] | None = None
    active_version: str | None = None
    gate_csv: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as stored in metadata and the audit log."""
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "gate_csv": self.gate_csv,
            "active_version": self.active_version,
            "candidate": _gate_figures(self.candidate),
            "active": _gate_figures(self.active),
        }


def _gate_figures(m: dict[str, Any] | None) -> dict[str, float] | None:
    if m is None:
        return None
    per = m["per_class"]
    return {
        "n": m["n"],
        "macro_f1": round(m["macro_f1"], 4),
        **{f"{label}_recall": round(per[label]["recall"], 4) for label in LABELS},
    }


@dataclass
class TrainOutcome:
    """What `triage train` did."""

    version: str
    report: dict[str, Any]
    gate: GateResult
    activated: bool
    data: dataset.TrainingSet
    held_out_dropped: int = 0


def library_versions() -> dict[str, str]:
    """Return the versions that decide whether a saved model still loads the same."""
    return {
        "python": platform.python_version(),
        "scikit-learn": pkg_version("scikit-learn"),
        "fugashi": pkg_version("fugashi"),
        "dictionary": dictionary_version(),
        "tokenizer": TOKENIZER_VERSION,
    }


def evaluate_router(router: Router, texts: list[str], labels: list[str]) -> dict[str, Any]:
    """Score a model with its routing policy on labelled texts."""
    predicted = [p.label for p in router.predict_many(texts)]
    return metrics(labels, predicted)


def gate(
    registry: Registry, candidate: Router, gate_csv: str | Path | None
) -> GateResult:
    """Compare the candidate with the active model on the same held-out rows."""
    active_version = registry.active()
    if active_version is None:
        return GateResult(True, ["no active model yet: the first model is activated"], active_version=None)
    if gate_csv is None or not Path(gate_csv).is_file():
        return GateResult(
            False,
            [f"no held-out CSV to compare on ({gate_csv or 'TRIAGE_GATE_CSV is unset'}); "
             "set TRIAGE_GATE_CSV or activate by hand with `triage activate VERSION`"],
            active_version=active_version,
        )
    table = dataset.read(gate_csv)
    texts = [r.text for r in table.rows]
    labels = [r.label or "" for r in table.rows]
    cand = evaluate_router(candidate, texts, labels)
    try:
        active = registry.load(active_version)
    except RegistryError as exc:
        return GateResult(True, [f"the active model cannot be loaded ({exc}); the candidate replaces it"],
                          candidate=cand, active_version=active_version, gate_csv=str(gate_csv))
    act = evaluate_router(active.router, texts, labels)
    reasons = []
    drop = act["macro_f1"] - cand["macro_f1"]
    if drop > GATE_MAX_MACRO_F1_DROP:
        reasons.append(
            f"macro-F1 drops by {drop:.3f} ({act['macro_f1']:.3f} → {cand['macro_f1']:.3f}; "
            f"at most {GATE_MAX_MACRO_F1_DROP} allowed)"
        )
    for label in GATE_RECALL_LABELS:
        a, c = act["per_class"][label]["recall"], cand["per_class"][label]["recall"]
        if c < a:
            reasons.append(f"{label} recall drops ({a:.3f} → {c:.3f})")
    passed = not reasons
    if passed:
        reasons.append(f"macro-F1 {act['macro_f1']:.3f} → {cand['macro_f1']:.3f}; no recall drop")
    return GateResult(passed, reasons, cand, act, active_version, str(gate_csv))


_held = threading.local()


@contextmanager
def training_lock(root: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Serialise trainings in one models directory (two processes, one registry).

    Re-entrant within a thread: ``ensure_model`` holds it around "is there a
    model?" and the training that follows, and ``train_version`` takes it
    again. A second flock on a new file description of the same process
    would wait for itself forever. ``on_wait`` is called once if another
    training holds the lock.
    """
    key = str(Path(root).resolve())
    held: dict[str, int] = _held.__dict__.setdefault("roots", {})
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".train.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        held[key] = 1
        try:
            yield
        finally:
            held[key] = 0
            fcntl.flock(f, fcntl.LOCK_UN)


def train_version(
    paths: list[str | Path],
    registry: Registry,
    gate_csv: str | Path | None = None,
    activate: str = "gate",
    actor: str = "cli",
    reason: str = "",
    progress: Progress | None = None,
) -> TrainOutcome:
    """Train on CSV files, save the version, and activate it per ``activate``.

    ``activate`` is "gate" (only if the quality gate passes), "force" or "no".
    Takes the training lock of the registry itself, for the whole run.
    """
    say = progress or (lambda _msg: None)
    with training_lock(registry.root, on_wait=lambda: say("waiting for another training of this registry to end")):
        return _train_version(paths, registry, gate_csv, activate, actor, reason, say)


def _train_version(paths: list[str | Path], registry: Registry, gate_csv: str | Path | None, activate: str,
                   actor: str, reason: str, say: Progress) -> TrainOutcome:
    say(f"reading {', '.join(str(p) for p in paths)}")
    data = dataset.load_training(list(paths))
    held_out_dropped = 0
    if gate_csv is not None and Path(gate_csv).is_file():
        # Rows of the held-out set must not be trained on, or the gate flatters.
        held = {r.text for r in dataset.read(gate_csv).rows}
        keep = [i for i, t in enumerate(data.texts) if t not in held]
        held_out_dropped = len(data.texts) - len(keep)
        if held_out_dropped:
            data.texts = [data.texts[i] for i in keep]
            data.labels = [data.labels[i] for i in keep]
    counts = data.counts()
    say(f"{len(data.texts)} rows ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    result = train(data.texts, data.labels, progress=say)
    router = Router(result.pipeline, result.policy)
    say("scoring against the active model")
    verdict = gate(registry, router, gate_csv)
    misclassified = _misclassified_csv(data.texts, data.labels, result.oof_labels)
    n_wrong = sum(a != b for a, b in zip(data.labels, result.oof_labels, strict=True))
    report = dict(result.report, misclassified=n_wrong)
    meta = {
        "training_files": data.sources,
        "rows": len(data.texts),
        "rows_per_label": counts,
        "duplicates_dropped": data.duplicates_dropped,
        "overridden_by_later_files": data.overridden,
        "held_out_rows_dropped": held_out_dropped,
        "metrics": report,
        "gate": verdict.to_dict(),
        "versions": library_versions(),
    }
    version = registry.save(
        result.pipeline,
        result.policy,
        meta,
        files={"report.txt": format_report(report, result.policy.to_dict()), "misclassified.csv": misclassified},
    )
    registry.audit("train", actor, version=version, data=[s["sha256"] for s in data.sources],
                   gate=verdict.to_dict(), mode=activate, reason=reason)
    activated = False
    if activate == "force" or (activate == "gate" and verdict.passed):
        registry.activate(version, actor=actor, reason=reason or "; ".join(verdict.reasons),
                          action="force-activate" if activate == "force" and not verdict.passed else "activate")
        activated = True
    return TrainOutcome(version, report, verdict, activated, data, held_out_dropped)


def _misclassified_csv(texts: list[str], labels: list[str], predicted: list[str]) -> str:
    # Opened in Excel by ops and kept beside the model: masked and formula-safe like every CSV we write.
    return csv_text(["text", "label", "predicted"],
                    ([t, y, p] for t, y, p in zip(texts, labels, predicted, strict=True) if y != p))


def format_report(report: dict[str, Any], thresholds: dict[str, float] | None = None) -> str:
    """Render a metrics report as the plain-text table `triage train` prints."""
    lines = [f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, m in report["per_class"].items():
        lines.append(
            f"{label:<14}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}"
        )
    lines.append(f"{'macro-F1':<14}{report['macro_f1']:>30.3f}")
    lines.append(f"{'accuracy':<14}{report['accuracy']:>30.3f}   (n = {report['n']})")
    labels = report["confusion"]["labels"]
    lines.append("")
    lines.append("confusion (rows: true, columns: predicted)")
    lines.append(" " * 14 + "".join(f"{lab[:12]:>14}" for lab in labels))
    for lab, row in zip(labels, report["confusion"]["matrix"], strict=True):
        lines.append(f"{lab:<14}" + "".join(f"{v:>14d}" for v in row))
    if "misclassified" in report:
        lines.append(f"\nmisclassified rows: {report['misclassified']}")
    if "needs_review_rate" in report:
        lines.append(f"marked 要確認 (needs review): {report['needs_review_rate']:.1%}")
    if thresholds:
        lines.append(
            f"thresholds: escalation ≥ {thresholds['escalation_threshold']:.2f}, "
            f"review below {thresholds['review_threshold']:.2f}"
        )
    return "\n".join(lines) + "\n"


def ensure_model(registry: Registry, data_dir: Path, gate_csv: str | Path | None, progress: Progress | None = None
                 ) -> tuple[str, bool]:
    """Return the active version, training the bundled default first if there is none."""
    with training_lock(registry.root):
        active = registry.active()
        if active is not None:
            return active, False
        versions = registry.versions()
        if versions:
            raise RegistryError(
                f"no active model in {registry.root}/ although {len(versions)} version(s) exist; "
                "choose one with `triage models` and `triage activate VERSION`."
            )
        default = data_dir / "inquiries.csv"
        if not default.is_file():
            raise RegistryError(
                f"no model in {registry.root}/ and no training data at {default}; "
                "run `triage train path/to/inquiries.csv`."
            )
        outcome = train_version([default], registry, gate_csv=gate_csv, activate="gate",
                                actor="first-run", reason="first run: default model", progress=progress)
        return outcome.version, True
