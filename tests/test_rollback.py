"""Rollback walks back through the activation history, the same in both registries (issue 13, item 9)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.registry import DatabaseRegistry, NothingToRollBack, Registry, rollback_stack
from triage.store import Store

from .conftest import _pg_schema_url

FAILED = {"passed": False, "reasons": ["escalation rows: a real drop"]}
PASSED = {"passed": True, "reasons": ["no drop"]}

Make = Callable[[str, dict | None], str]


@pytest.fixture(params=["folder", "sqlite", "postgresql"])
def registry_and_make(request: pytest.FixtureRequest, trained_models: Path,
                      tmp_path: Path) -> Iterator[tuple[Registry, Make]]:
    """An empty registry of either kind and a function that stores a named version with a given gate."""
    folder = Registry(trained_models)
    loaded = folder.load(folder.active() or "")
    base = {k: v for k, v in loaded.metadata.items() if k not in ("version", "created", "model_sha256", "gate")}
    store, urls = None, None
    if request.param == "folder":
        registry: Registry = Registry(tmp_path / "models")
    else:
        urls = iter([f"sqlite:///{tmp_path / 'store.sqlite'}"]) if request.param == "sqlite" else _pg_schema_url()
        store = Store(next(urls))
        store.create_schema()
        registry = DatabaseRegistry(store, tmp_path / "lock")

    def make(name: str, gate: dict | None = None) -> str:
        meta = dict(base, gate=gate) if gate is not None else dict(base)
        return registry.save(loaded.router, meta, files={"report.txt": "r", "misclassified.csv": "text,label\n"},
                             version=name)

    yield registry, make
    if store is not None:
        store.engine.dispose()
        next(urls, None)  # drops the PostgreSQL schema


def test_rollback_twice_goes_two_back_and_a_third_time_says_what_to_do(registry_and_make) -> None:
    registry, make = registry_and_make
    a, b, c = make("a"), make("b", PASSED), make("c", PASSED)
    for v in (a, b, c):
        assert registry.activate(v, actor="ops") is True
    assert registry.rollback(actor="ops") == b and registry.active() == b
    assert registry.rollback(actor="ops") == a and registry.active() == a  # not back to c
    with pytest.raises(NothingToRollBack, match=r"`triage activate VERSION`") as info:
        registry.rollback(actor="ops")
    assert "triage models" in str(info.value) and "有効にする" in info.value.ja
    assert registry.active() == a
    assert [(e["action"], e["version"], e["previous"]) for e in registry.history()] == [
        ("activate", a, None), ("activate", b, a), ("activate", c, b), ("rollback", b, c), ("rollback", a, b)]


def test_rollback_with_one_version_only_names_the_command(registry_and_make) -> None:
    registry, make = registry_and_make
    registry.activate(make("only"))
    with pytest.raises(NothingToRollBack, match=r"no version active before only.*`triage activate VERSION`"):
        registry.rollback()
    assert registry.active() == "only"


def test_an_activation_after_a_rollback_is_the_new_top(registry_and_make) -> None:
    registry, make = registry_and_make
    a, b, c, d = make("a"), make("b"), make("c"), make("d")
    for v in (a, b, c):
        registry.activate(v)
    assert registry.rollback() == b
    registry.activate(d)
    assert registry.rollback() == b  # d was activated over b: back to b, not to c
    assert registry.rollback() == a


def test_rollback_skips_a_gate_failed_version_activated_without_a_reason(registry_and_make) -> None:
    registry, make = registry_and_make
    a, bad, c = make("a", PASSED), make("bad", FAILED), make("c", PASSED)
    registry.activate(a)
    registry.activate(bad)  # e.g. `triage activate bad` without --force
    registry.activate(c)
    assert registry.rollback() == a
    # The skipped version is off the stack too: the next rollback does not land on it either.
    with pytest.raises(NothingToRollBack):
        registry.rollback()


def test_the_message_names_what_rollback_skipped(registry_and_make) -> None:
    registry, make = registry_and_make
    bad, c = make("bad", FAILED), make("c", PASSED)
    registry.activate(bad)
    registry.activate(c)
    with pytest.raises(NothingToRollBack, match=r"skipped bad \(failed the quality gate") as info:
        registry.rollback()
    assert "品質ゲート不合格" in info.value.ja and registry.active() == c


def test_rollback_returns_to_a_gate_failed_version_forced_with_a_reason(registry_and_make) -> None:
    registry, make = registry_and_make
    a, forced, c = make("a", PASSED), make("forced", FAILED), make("c", PASSED)
    registry.activate(a)
    registry.activate(forced, reason="escalations are checked by hand this week", action="force-activate")
    registry.activate(c)
    assert registry.rollback() == forced
    assert registry.rollback() == a


def test_rollback_never_toggles_after_explicit_activations_of_old_versions(registry_and_make) -> None:
    registry, make = registry_and_make
    a, b = make("a"), make("b")
    registry.activate(a)
    registry.activate(b)
    registry.activate(a)  # by hand, not a rollback: history is a, b, a
    assert registry.rollback() == b
    assert registry.rollback() == a
    with pytest.raises(NothingToRollBack):
        registry.rollback()


@pytest.mark.parametrize(("history", "expected"), [
    ([], []),
    ([{"version": "a"}, {"version": "b", "previous": "a"}], ["a", "b"]),
    ([{"version": "a"}, {"version": "a", "previous": "a"}], ["a"]),  # a self entry of an older release
    ([{"version": "a", "action": "activate"}, {"version": "b", "action": "activate"},
      {"version": "c", "action": "activate"}, {"version": "a", "action": "rollback"}], ["a"]),  # skipped b
    ([{"version": "a", "action": "activate"}, {"version": "z", "action": "rollback"}], ["a", "z"]),
])
def test_the_stack_replays_history(history: list[dict], expected: list[str]) -> None:
    assert [e["version"] for e in rollback_stack(history)] == expected


def test_cli_activate_force_records_the_reason_so_rollback_may_return(models_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    registry = Registry(models_dir)
    first = registry.active()
    for name, gate in (("bad", FAILED), ("bad2", FAILED), ("good", PASSED)):
        shutil.copytree(models_dir / first, models_dir / name)
        meta_path = models_dir / name / "metadata.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta_path.write_text(json.dumps(dict(meta, version=name, gate=gate)), encoding="utf-8")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    runner = CliRunner()
    result = runner.invoke(cli, ["activate", "bad"])
    assert result.exit_code == 0 and "will not return to it" in result.output, result.output
    result = runner.invoke(cli, ["activate", "bad2", "--force", "責任者が全件確認する"])
    assert result.exit_code == 0 and "will not return" not in result.output, result.output
    assert registry.audit_log()[-1]["action"] == "force-activate"
    assert runner.invoke(cli, ["activate", "good"]).exit_code == 0
    result = runner.invoke(cli, ["rollback"])
    assert result.exit_code == 0 and "Rolled back to bad2" in result.output, result.output
    result = runner.invoke(cli, ["rollback"])
    assert result.exit_code == 0 and f"Rolled back to {first}" in result.output, result.output  # bad skipped
    result = runner.invoke(cli, ["rollback"])
    assert result.exit_code == 1 and "`triage activate VERSION`" in result.output, result.output
    assert runner.invoke(cli, ["activate", "good", "--force", " "]).exit_code == 2


def test_the_admin_page_says_in_japanese_why_there_is_nothing_to_roll_back(admin) -> None:
    from .conftest import csrf_token

    admin.post("/admin/rollback", data={"csrf_token": csrf_token(admin)})
    html = admin.get("/admin/").get_data(as_text=True)
    assert "ロールバックできませんでした: 戻せる以前のモデルがありません" in html and "nothing to roll back" not in html
