"""The registry's own files are never versions; activating the active version is a no-op; refusals clear."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.registry import Registry, RegistryError

from .conftest import csrf_token
from .servers import free_port, get_json, launch_serve, server_env, stop_group

RESERVED = ["ACTIVE", "audit.jsonl", "history.jsonl"]


def _copy_version(models: Path, name: str, tamper: bool = False) -> str:
    """Another version beside the active one (a copy of it, or a copy with one byte of the model flipped)."""
    registry = Registry(models)
    shutil.copytree(models / registry.active(), models / name)
    if tamper:
        model = models / name / "model.joblib"
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0x01
        model.write_bytes(bytes(data))
    return name


def _point(models: Path, name: str) -> None:
    tmp = models / ".ACTIVE.test"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, models / "ACTIVE")


@pytest.mark.parametrize("name", RESERVED)
def test_registry_files_are_not_versions_on_the_cli(models_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                    name: str) -> None:
    assert (models_dir / name).is_file()
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    before = Registry(models_dir).active()
    result = CliRunner().invoke(cli, ["activate", name])
    assert result.exit_code == 1 and "file of the registry" in result.output, result.output
    assert isinstance(result.exception, SystemExit)
    assert Registry(models_dir).active() == before
    with pytest.raises(RegistryError):
        Registry(models_dir).metadata(name)


def test_registry_files_are_not_versions_on_the_admin_page(admin, app) -> None:
    before = app.extensions["triage.registry"].active()
    for name in RESERVED:
        resp = admin.post("/admin/activate", data={"version": name, "csrf_token": csrf_token(admin)})
        assert resp.status_code == 303
    page = admin.get("/admin/")
    assert page.status_code == 200 and "有効化できませんでした" in page.get_data(as_text=True)
    assert app.extensions["triage.registry"].active() == before


def test_a_refusal_leaves_readyz_once_active_points_back(app, client, models_dir: Path) -> None:
    holder = app.extensions["triage.holder"]
    good = Registry(models_dir).active()
    _point(models_dir, _copy_version(models_dir, "tampered", tamper=True))
    holder.refresh()
    ready = client.get("/readyz").get_json()
    assert ready["model"] == good and "SHA-256" in ready["model_error"]
    _point(models_dir, good)
    holder.refresh()
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and "model_error" not in ready, ready


def test_activating_the_active_version_is_a_no_op_and_rollback_goes_to_the_one_before(models_dir: Path) -> None:
    registry = Registry(models_dir)
    first = registry.active()
    second = _copy_version(models_dir, "second")
    assert registry.activate(second) is True
    assert registry.activate(second) is False  # twice: nothing recorded the second time
    history = [json.loads(line) for line in (models_dir / "history.jsonl").read_text().splitlines()]
    assert [h["version"] for h in history].count(second) == 1
    assert registry.rollback() == first and registry.active() == first


def test_rollback_skips_self_entries_of_older_releases(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(models_dir)
    first = registry.active()
    second = _copy_version(models_dir, "second")
    registry.activate(second)
    with open(models_dir / "history.jsonl", "a", encoding="utf-8") as f:  # what `activate V` twice wrote before
        f.write(json.dumps({"time": "2026-12-01T00:00:00+00:00", "version": second, "previous": second}) + "\n")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    runner = CliRunner()
    again = runner.invoke(cli, ["activate", second])
    assert again.exit_code == 0 and "already active" in again.output, again.output
    result = runner.invoke(cli, ["rollback"])
    assert result.exit_code == 0 and f"Rolled back to {first}" in result.output, result.output


@pytest.mark.slow
def test_serve_with_a_tampered_active_version_starts_not_ready_and_recovers(models_dir: Path,
                                                                             tmp_path: Path) -> None:
    good = Registry(models_dir).active()
    _point(models_dir, _copy_version(models_dir, "tampered", tamper=True))
    env = server_env(models_dir, tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    process = launch_serve(env, tmp_path, port, 1, log)
    url = f"http://127.0.0.1:{port}/readyz"

    def readyz(want: int) -> dict:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                status, body = get_json(url, timeout=2.0)
            except OSError:
                status, body = None, {}
            if status == want:
                return body
            time.sleep(0.2)
        raise AssertionError(f"/readyz never answered {want}:\n{log.read_text(errors='replace')}")

    try:
        body = readyz(503)
        assert body["model"] is None and "tampered" in body["model_error"] and "SHA-256" in body["model_error"]
        assert "serving NO model" in log.read_text(errors="replace")
        _point(models_dir, good)
        body = readyz(200)
        assert body["model"] == good and "model_error" not in body
    finally:
        stop_group(process)
    assert "AttributeError" not in log.read_text(errors="replace")
