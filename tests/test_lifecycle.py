"""Model lifecycle: quality gate, --force, rollback, corrections export and retraining from them."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage import dataset
from triage.cli import cli
from triage.export import excel_safe
from triage.lifecycle import train_version
from triage.registry import Registry

from .conftest import DATA, write_csv


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Disjoint train (80 per label), held-out gate rows (40 per label) and a label-shuffled copy."""
    rng = random.Random(11)
    rows = dataset.read(DATA / "inquiries.csv").rows
    train, gate = [], []
    for label in dataset.LABELS:
        pool = rng.sample([r for r in rows if r.label == label and len(r.text) < 500], 120)
        train += [{"text": r.text, "label": label} for r in pool[:80]]
        gate += [{"text": r.text, "label": label} for r in pool[80:]]
    shuffled = [dict(r) for r in train]
    third = rng.sample(range(len(shuffled)), len(shuffled) // 3)
    labels = [shuffled[i]["label"] for i in third]
    rng.shuffle(labels)
    for i, label in zip(third, labels, strict=True):
        shuffled[i]["label"] = label
    d = tmp_path_factory.mktemp("gate")
    return {"train": write_csv(d / "train.csv", train), "gate": write_csv(d / "gate.csv", gate),
            "shuffled": write_csv(d / "shuffled.csv", shuffled)}


@pytest.fixture
def registry(tmp_path: Path, split: dict[str, Path]) -> Registry:
    reg = Registry(tmp_path / "models")
    train_version([split["train"]], reg, gate_csv=split["gate"])
    return reg


def test_gate_refuses_a_candidate_trained_on_shuffled_labels(registry: Registry, split: dict[str, Path]) -> None:
    before = registry.active()
    outcome = train_version([split["shuffled"]], registry, gate_csv=split["gate"])
    assert not outcome.gate.passed and not outcome.activated
    assert registry.active() == before
    assert outcome.gate.candidate["macro_f1"] < outcome.gate.active["macro_f1"]
    assert any("drop" in r for r in outcome.gate.reasons)
    assert registry.metadata(outcome.version)["gate"]["passed"] is False


@pytest.mark.parametrize(("active", "candidate", "significant"), [
    # One row lost out of 600 (0.944 → 0.939 on a label) is noise, not a drop.
    ([True] * 600, [True] * 599 + [False], False),
    ([True] * 10 + [False] * 5, [False] * 10 + [True] * 5, False),
    ([True] * 12 + [False] * 88, [False] * 12 + [False] * 88, True),
])
def test_the_gate_test_accounts_for_the_size_of_the_held_out_set(active: list[bool], candidate: list[bool],
                                                                  significant: bool) -> None:
    from triage.lifecycle import GATE_ALPHA, paired_drop

    worse, better, p = paired_drop(active, candidate)
    assert worse == sum(a and not c for a, c in zip(active, candidate, strict=True))
    assert (worse > better and p < GATE_ALPHA) is significant


def test_gate_passes_the_same_recipe_again(registry: Registry, split: dict[str, Path]) -> None:
    outcome = train_version([split["train"]], registry, gate_csv=split["gate"])
    assert outcome.gate.passed and outcome.activated


def test_force_activates_and_records_the_reason(registry: Registry, split: dict[str, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(registry.root))
    monkeypatch.setenv("TRIAGE_GATE_CSV", str(split["gate"]))
    result = CliRunner().invoke(cli, ["train", str(split["shuffled"]), "--force", "relabelled on purpose"])
    assert result.exit_code == 0, result.output
    assert "REFUSED" in result.output and "Activated" in result.output
    entry = registry.audit_log()[-1]
    assert entry["action"] == "force-activate" and entry["reason"] == "relabelled on purpose"
    assert entry["actor"] == "cli"


def test_refused_training_prints_both_sets_of_figures(registry: Registry, split: dict[str, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(registry.root))
    monkeypatch.setenv("TRIAGE_GATE_CSV", str(split["gate"]))
    result = CliRunner().invoke(cli, ["train", str(split["shuffled"])])
    assert result.exit_code == 0, result.output
    assert "Quality gate: REFUSED" in result.output
    assert "active " in result.output and "candidate " in result.output and "Kept" in result.output


def test_rollback_restores_the_previous_hash(registry: Registry, split: dict[str, Path]) -> None:
    first = registry.active()
    first_hash = registry.load(first).sha256
    train_version([split["shuffled"]], registry, gate_csv=split["gate"], activate="force")
    assert registry.active() != first
    assert registry.rollback(actor="ops1") == first
    assert registry.load(registry.active()).sha256 == first_hash
    assert registry.audit_log()[-1]["action"] == "rollback"


def test_training_rows_in_the_gate_set_are_left_out(tmp_path: Path, split: dict[str, Path]) -> None:
    both = tmp_path / "both.csv"
    rows = [{"text": r.text, "label": r.label} for p in ("train", "gate") for r in dataset.read(split[p]).rows]
    write_csv(both, rows)
    outcome = train_version([both], Registry(tmp_path / "m"), gate_csv=split["gate"])
    assert outcome.held_out_dropped == 120


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+81 90", "'+81 90"), ("-1", "'-1"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
     ("\rx", "'\rx"), ("＝HYPERLINK()", "'＝HYPERLINK()"), ("＋1", "'＋1"), ("－1", "'－1"), ("＠a", "'＠a"),
     ("補償してください", "補償してください")],
)
def test_formula_cells_are_escaped(cell: str, safe: str) -> None:
    assert excel_safe(cell) == safe


def test_export_corrections_and_learn_from_them(app, agent, tmp_path: Path, monkeypatch) -> None:
    from .conftest import csrf_token

    store = app.extensions["triage.store"]
    texts = ["=HYPERLINK(\"http://x\") 返金して", "退会したい。連絡先 test@example.jp", "弁護士に相談します"]
    for t in texts:
        agent.post("/", data={"text": t, "csrf_token": csrf_token(agent)})
    for row in store.queue():
        agent.post(f"/inquiries/{row.id}/correction", data={"label": "escalation", "csrf_token": csrf_token(agent)})
    monkeypatch.setenv("TRIAGE_DATABASE_URL", app.config["DATABASE_URL"])
    out = tmp_path / "corrections.csv"
    result = CliRunner().invoke(cli, ["export-corrections", str(out), "--bom"])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    exported = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(exported) == 3 and {r["label"] for r in exported} == {"escalation"}
    assert all(not r["text"].startswith("=") for r in exported)
    assert all("test@example.jp" not in r["text"] for r in exported)  # exports are redacted
    assert {"text", "label", "source", "corrected_at"} <= set(exported[0])
    # A correction overrides the training row with the same text, and the report counts it.
    base = tmp_path / "base.csv"
    rows = [{"text": r["text"], "label": "faq"} for r in exported]
    rows += [r.__dict__ for r in dataset.read(DATA / "inquiries.csv").rows[:200]]
    write_csv(base, [{"text": r["text"], "label": r["label"]} for r in rows])
    merged = dataset.load_training([base, out])
    assert merged.overridden == 3
