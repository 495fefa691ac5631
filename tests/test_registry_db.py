"""The database registry (TRIAGE_REGISTRY=database): versions, pointer, history and audit in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from triage.cli import cli
from triage.live import ModelHolder, Watcher
from triage.registry import DatabaseRegistry, Registry, RegistryError, open_registry
from triage.store import ModelVersion, Store


@pytest.fixture
def store(database_url: str):
    s = Store(database_url)
    s.create_schema()
    yield s
    s.engine.dispose()


def _copy_in(trained_models: Path, registry: DatabaseRegistry, n: int = 2) -> list[str]:
    """Store the session's tiny model n times (as n versions) in the database registry."""
    folder = Registry(trained_models)
    loaded = folder.load(folder.active() or "")
    meta = {k: v for k, v in loaded.metadata.items() if k not in ("version", "created", "model_sha256")}
    return [registry.save(loaded.router, meta, files={"report.txt": "report", "misclassified.csv": "text,label\n"})
            for _ in range(n)]


def test_versions_activation_rollback_and_audit_live_in_the_database(
        store: Store, trained_models: Path, tmp_path: Path) -> None:
    registry = DatabaseRegistry(store, tmp_path / "lock")
    assert registry.versions() == [] and registry.active() is None
    first, second = _copy_in(trained_models, registry)
    assert first != second  # the same bytes twice are numbered, not overwritten
    assert [m["version"] for m in registry.versions()] == [first, second]
    assert registry.file(first, "report.txt") == "report"
    assert registry.activate(first, actor="ops") is True
    assert registry.activate(second, actor="ops", reason="newer") is True
    assert registry.activate(second, actor="ops") is False  # already active: nothing recorded
    assert registry.active() == second and store.pointers()["model"] == second
    assert registry.rollback(actor="ops") == first
    assert registry.active() == first
    loaded = registry.load(first)
    assert loaded.sha256 == registry.metadata(first)["model_sha256"]
    log = registry.audit_log()
    assert [(e["action"], e["version"], e["previous"]) for e in log] == [
        ("activate", first, None), ("activate", second, first), ("rollback", first, second)]
    assert log[1]["reason"] == "newer" and log[1]["actor"] == "ops"
    with pytest.raises(RegistryError, match="no model version"):
        registry.load("missing")
    assert not (tmp_path / "lock").exists()  # nothing of a version goes to the folder


def test_tampered_bytes_are_refused_before_unpickling(store: Store, trained_models: Path, tmp_path: Path) -> None:
    registry = DatabaseRegistry(store, tmp_path)
    (version,) = _copy_in(trained_models, registry, 1)
    with store.session() as s:
        s.execute(update(ModelVersion).where(ModelVersion.version == version).values(model=b"not a pickle"))
    with pytest.raises(RegistryError, match="SHA-256 mismatch"):
        registry.load(version)
    with pytest.raises(RegistryError, match="SHA-256 mismatch"):
        registry.activate(version)
    assert registry.active() is None


def test_a_worker_follows_the_model_pointer_and_refuses_a_tampered_version(
        store: Store, trained_models: Path, tmp_path: Path) -> None:
    registry = DatabaseRegistry(store, tmp_path)
    first, second, third = _copy_in(trained_models, registry, 3)
    registry.activate(first)
    watcher = Watcher(60.0, read_pointers=store.pointers)  # ticked by hand below
    holder = watcher.add(ModelHolder(registry))
    assert watcher.refresh() == ["model"] and holder.current is not None and holder.current.version == first
    # Another host activates: this worker sees it on its next tick.
    other = Store(store.url)
    try:
        DatabaseRegistry(other, tmp_path).activate(second, actor="host-b")
    finally:
        other.engine.dispose()
    assert watcher.refresh() == ["model"] and holder.current.version == second
    # A version whose bytes were changed after it was activated is refused; the old one keeps serving.
    registry.activate(third)
    with store.session() as s:
        s.execute(update(ModelVersion).where(ModelVersion.version == third).values(model=b"tampered"))
    assert watcher.refresh() == []
    assert holder.current.version == second and "refused model" in (holder.last_error or "")


def test_open_registry_names_the_kind() -> None:
    assert type(open_registry({"REGISTRY": "folder", "MODELS_DIR": "models"})) is Registry
    with pytest.raises(RegistryError, match="folder or database"):
        open_registry({"REGISTRY": "s3", "MODELS_DIR": "models"})


def test_cli_train_models_activate_rollback_on_the_database_registry(
        tmp_path: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("TRIAGE_REGISTRY", "database")
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRIAGE_GATE_CSV", "")
    runner = CliRunner()
    result = runner.invoke(cli, ["models"])
    assert result.exit_code == 0 and "database registry" in result.output, result.output
    for _ in range(2):
        result = runner.invoke(cli, ["train", str(tiny_csv), "--force", "test"])
        assert result.exit_code == 0, result.output
        assert "in the database" in result.output
    store = Store(url)
    registry = DatabaseRegistry(store, tmp_path / "models")
    first, second = (m["version"] for m in registry.versions())
    assert registry.active() == second
    result = runner.invoke(cli, ["models"])
    assert result.exit_code == 0 and f"* {second}" in result.output, result.output
    result = runner.invoke(cli, ["rollback"])
    assert result.exit_code == 0 and registry.active() == first, result.output
    result = runner.invoke(cli, ["activate", second])
    assert result.exit_code == 0 and registry.active() == second, result.output
    # No model version was written to the folder.
    assert not list((tmp_path / "models").glob("*/model.joblib"))
    assert [e["action"] for e in registry.audit_log()].count("train") == 2
    store.engine.dispose()


def test_trainings_of_all_hosts_are_serialised_on_postgresql(store: Store, tmp_path: Path) -> None:
    from sqlalchemy import text

    from triage.registry import TRAINING_LOCK_KEY

    registry = DatabaseRegistry(store, tmp_path)
    if store.engine.dialect.name != "postgresql":
        with registry.exclusive():  # SQLite: the local file lock is enough; this is a no-op
            return
    other = Store(store.url)
    try:
        def free() -> bool:
            with other.engine.connect() as conn:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": TRAINING_LOCK_KEY}).scalar()
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": TRAINING_LOCK_KEY})
                return bool(got)

        with registry.exclusive():
            assert not free()  # another host (connection) waits while one trains
        assert free()
    finally:
        other.engine.dispose()
