"""Shared fixtures: a tiny model trained once per session from real rows of data/."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from triage import dataset
from triage.lifecycle import train_version
from triage.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Print the versions that decide the model's behaviour."""
    from triage.lifecycle import library_versions

    return [", ".join(f"{k} {v}" for k, v in library_versions().items())]


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    """Write rows with a header to a CSV file."""
    fields = list(rows[0])
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def tiny_rows() -> list[dict[str, str]]:
    """Forty real rows per label from the bundled training data (fixed seed)."""
    table = dataset.read(DATA / "inquiries.csv")
    rng = random.Random(7)
    rows = []
    for label in dataset.LABELS:
        pool = [r for r in table.rows if r.label == label and len(r.text) < 400]
        rows += [{"text": r.text, "label": label} for r in rng.sample(pool, 40)]
    return rows


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory, tiny_rows: list[dict[str, str]]) -> Path:
    """The tiny training set as a CSV file."""
    return write_csv(tmp_path_factory.mktemp("data") / "tiny.csv", tiny_rows)


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path) -> Path:
    """A models directory with one active version trained on the tiny set."""
    root = tmp_path_factory.mktemp("models")
    train_version([tiny_csv], Registry(root), gate_csv=None, activate="gate")
    return root


@pytest.fixture
def models_dir(tmp_path: Path, trained_models: Path) -> Path:
    """A private copy of the trained models directory (tests may change it)."""
    import shutil

    dest = tmp_path / "models"
    shutil.copytree(trained_models, dest)
    return dest
