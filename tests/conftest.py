"""Shared fixtures: a tiny model trained once per session from real rows of data/."""

from __future__ import annotations

import csv
import os
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from triage import dataset
from triage.lifecycle import train_version
from triage.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


@pytest.fixture(scope="session", autouse=True)
def session_logs(tmp_path_factory: pytest.TempPathFactory):
    """Keep every log line of the session (in-process and real servers) for test_log_privacy."""
    import logging
    import os

    from triage.redact import install_record_factory

    log_dir = tmp_path_factory.mktemp("logs")
    os.environ["TRIAGE_TEST_LOG_DIR"] = str(log_dir)
    install_record_factory()
    handler = logging.FileHandler(log_dir / "in-process.log", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield log_dir
    root.removeHandler(handler)
    root.setLevel(previous)
    handler.close()
    os.environ.pop("TRIAGE_TEST_LOG_DIR", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked after_all last (in their order): they check what the others logged."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


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
    """Forty real rows per label from the bundled training data (fixed seed).

    Drawn from the first two rounds' writers only, so that rows added to the data later do
    not change the small model that the page and API tests run on.
    """
    table = dataset.read(DATA / "inquiries.csv")
    rng = random.Random(7)
    rows = []
    for label in dataset.LABELS:
        pool = [r for r in table.rows if r.label == label and len(r.text) < 400
                and r.extra.get("writer", "").startswith(("r1-", "r2-"))]
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
    train_version([tiny_csv], Registry(root), gate_csv=None, activate="gate", lexicon_csv=DATA / "lexicon.csv")
    return root


@pytest.fixture
def models_dir(tmp_path: Path, trained_models: Path) -> Path:
    """A private copy of the trained models directory (tests may change it)."""
    import shutil

    dest = tmp_path / "models"
    shutil.copytree(trained_models, dest)
    return dest


WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "correct horse battery"


def app_config(models_dir: Path, tmp_path: Path, **extra: object) -> dict[str, object]:
    """Settings for a test app: its own models copy, database and secrets."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MODELS_DIR": str(models_dir),
        "GATE_CSV": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'triage.sqlite'}",
        "RELOAD_SECONDS": 0.2,
        **extra,
    }


@pytest.fixture
def app(models_dir: Path, tmp_path: Path):
    """A service app on the tiny model, with one agent, one admin and one API token."""
    from triage import create_app
    from triage.auth import add_user, create_token

    app = create_app(app_config(models_dir, tmp_path))
    # Uploads go to the instance folder: this test's own, not the checkout's.
    app.instance_path = str(tmp_path / "instance")
    store = app.extensions["triage.store"]
    add_user(store, "agent1", "agent", PASSWORD)
    add_user(store, "admin1", "admin", PASSWORD)
    app.config["TEST_TOKEN"] = create_token(store, "ticketing")
    yield app
    app.extensions["triage.live"].stop()  # its watcher thread would poll this database for the rest of the session
    store.engine.dispose()


@pytest.fixture
def client(app):
    """An anonymous test client."""
    return app.test_client()


def csrf_token(client) -> str:
    """Return the CSRF token of the client's session (from the login page's form)."""
    import re

    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, name: str) -> None:
    """Log a test client in."""
    resp = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)


@pytest.fixture
def agent(app):
    """A test client logged in as an agent."""
    c = app.test_client()
    login(c, "agent1")
    return c


@pytest.fixture
def admin(app):
    """A test client logged in as an admin."""
    c = app.test_client()
    login(c, "admin1")
    return c


@pytest.fixture
def auth_headers(app) -> dict[str, str]:
    """Headers with the test API token."""
    return {"Authorization": f"Bearer {app.config['TEST_TOKEN']}"}


PG_BASE = os.environ.get("TRIAGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url() -> Iterator[str]:
    """Yield a URL whose search_path is a fresh schema, dropped afterwards."""
    try:
        engine = create_engine(PG_BASE)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_BASE} is not reachable in CI: {type(exc).__name__}")
        pytest.skip(f"no PostgreSQL server at {PG_BASE} ({type(exc).__name__}); CI runs this against one")
    schema = f"triage_test_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL: a SQLite file, or a private schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        yield from _pg_schema_url()
