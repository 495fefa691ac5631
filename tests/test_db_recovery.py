"""A worker recovers when the database does: connections opened while it refused writes are discarded."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from .conftest import app_config


def _read_only_while(store, flag: dict[str, bool]) -> None:
    """While flag["ro"], new connections open the file read-only: what SQLite does when it cannot write it."""

    @event.listens_for(store.engine, "do_connect")
    def _connect(dialect, conn_rec, cargs, cparams):
        if flag["ro"]:
            cargs[0] = f"file:{cargs[0]}?mode=ro"
            cparams["uri"] = True


def test_writes_and_readyz_recover_with_the_database(models_dir: Path, tmp_path: Path) -> None:
    from triage import create_app
    from triage.auth import create_token

    app = create_app(app_config(models_dir, tmp_path))
    store = app.extensions["triage.store"]
    auth = {"Authorization": f"Bearer {create_token(store, 'ticketing')}"}
    client = app.test_client()
    flag = {"ro": True}
    _read_only_while(store, flag)
    store.engine.dispose()
    try:
        # Several pooled connections are opened while the file is read-only (several threads, one worker).
        held = [store.engine.connect() for _ in range(3)]
        for conn in held:
            conn.close()
        assert client.post("/api/v1/classify", json={"text": "補償は？"}, headers=auth).status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["database"].startswith("cannot write"), ready.get_json()

        flag["ro"] = False  # the disk is writable again
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.get_json()
        statuses = [client.post("/api/v1/classify", json={"text": f"{i}件目 補償は？"}, headers=auth).status_code
                    for i in range(6)]
        assert statuses == [201] * 6
        assert store.count_inquiries() == 6
    finally:
        store.engine.dispose()


def test_a_failed_write_discards_its_connection(models_dir: Path, tmp_path: Path) -> None:
    from triage import create_app
    from triage.auth import create_token

    app = create_app(app_config(models_dir, tmp_path))
    store = app.extensions["triage.store"]
    auth = {"Authorization": f"Bearer {create_token(store, 'ticketing')}"}
    client = app.test_client()
    flag = {"ro": True}
    _read_only_while(store, flag)
    store.engine.dispose()
    try:
        held = [store.engine.connect() for _ in range(2)]
        for conn in held:
            conn.close()
        flag["ro"] = False
        # No readiness probe in between: at most the first write meets an old read-only connection.
        statuses = [client.post("/api/v1/classify", json={"text": f"{i}件目 返金して"}, headers=auth).status_code
                    for i in range(6)]
        assert statuses[1:] == [201] * 5, statuses
    finally:
        store.engine.dispose()
