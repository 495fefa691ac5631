"""Settings: each one documented in the README, converted, and required secrets enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage import StartupError, config, create_app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_documented_in_the_readme(setting: config.Setting) -> None:
    assert f"`{setting.env}`" in README
    assert setting.help


def test_the_readme_table_is_generated_from_the_settings() -> None:
    assert config.markdown_table() in README, "regenerate it: python -m triage.config"


@pytest.mark.parametrize(("name", "hint"), [
    ("TRIAGE_STORE_REDACT", "TRIAGE_STORE_REDACTED"),
    ("TRIAGE_SECRETKEY", "TRIAGE_SECRET_KEY"),
    ("TRIAGE_QWERTY", None),
])
def test_an_unknown_setting_is_refused_with_the_closest_name(name: str, hint: str | None) -> None:
    with pytest.raises(config.ConfigError, match=name) as info:
        config.from_env({name: "true"})
    assert (f"did you mean {hint}?" in str(info.value)) if hint else "did you mean" not in str(info.value)
    # The test suite's own variables are not settings.
    assert config.from_env({"TRIAGE_TEST_POSTGRES": "x"})["PORT"] == 8000


def test_values_are_converted_and_bad_ones_named() -> None:
    got = config.from_env({"TRIAGE_PORT": "9000", "TRIAGE_STORE_REDACTED": "yes"})
    assert got["PORT"] == 9000 and got["STORE_REDACTED"] is True
    with pytest.raises(config.ConfigError, match="TRIAGE_PORT"):
        config.from_env({"TRIAGE_PORT": "eighty"})


def test_the_service_refuses_to_start_without_a_secret_key(models_dir: Path, tmp_path: Path) -> None:
    from .conftest import app_config

    with pytest.raises(StartupError, match="TRIAGE_SECRET_KEY is not set"):
        create_app(app_config(models_dir, tmp_path, SECRET_KEY=None))


def test_serve_exits_with_the_message_not_a_traceback(models_dir: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(TRIAGE_MODELS_DIR=str(models_dir), TRIAGE_DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}")
    out = subprocess.run([sys.executable, "-m", "triage", "serve", "--port", "0"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "TRIAGE_SECRET_KEY is not set" in out.stderr
    assert "Traceback" not in out.stderr
