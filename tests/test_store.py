"""The store against SQLite and against the PostgreSQL server of this machine kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from triage.store import Inquiry, Store, utcnow


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    s.create_schema()
    yield s
    s.engine.dispose()


def _row(**extra: object) -> dict[str, object]:
    return {"source": "api", "text": "補償は？", "label": "compensation", "confidence": 0.9,
            "probabilities": {"faq": 0.05, "compensation": 0.9, "escalation": 0.05},
            "needs_review": False, "model_version": "v1", **extra}


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with s.engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"


def test_inquiry_round_trip_with_japanese_text_and_json(store: Store) -> None:
    row, created = store.add_inquiry(**_row(text="①㈱～髙 ﾊﾟｽﾜｰﾄﾞ 😀"))
    assert created
    got = store.get_inquiry(row.id)
    assert got.text == "①㈱～髙 ﾊﾟｽﾜｰﾄﾞ 😀"
    assert got.probabilities["compensation"] == 0.9
    assert got.received_at.tzinfo is not None or store.url.startswith("sqlite")


def test_external_id_is_unique_per_source(store: Store) -> None:
    first, created = store.add_inquiry(**_row(source="webhook", external_id="msg_1"))
    again, created_again = store.add_inquiry(**_row(source="webhook", external_id="msg_1", text="別"))
    assert created and not created_again and again.id == first.id
    other, created_other = store.add_inquiry(**_row(source="api", external_id="msg_1"))
    assert created_other and other.id != first.id
    assert store.count_inquiries() == 2


def test_rows_without_external_id_never_collide(store: Store) -> None:
    for _ in range(3):
        store.add_inquiry(**_row())
    assert store.count_inquiries() == 3


def test_corrections_latest_wins_and_handled_state(store: Store) -> None:
    row, _ = store.add_inquiry(**_row())
    store.add_correction(row.id, "faq", "a1")
    store.add_correction(row.id, "escalation", "a2")
    assert store.add_correction(999_999, "faq", "a1") is None
    [(correction, inquiry)] = store.corrections()
    assert (correction.label, correction.agent, inquiry.id) == ("escalation", "a2", row.id)
    assert store.set_handled(row.id, True, "a1")
    assert store.get_inquiry(row.id).handled_by == "a1"
    assert [r.id for r in store.queue(handled=False)] == []


def test_purge_deletes_old_inquiries_with_their_corrections(store: Store) -> None:
    old, _ = store.add_inquiry(**_row(received_at=utcnow() - timedelta(days=100)))
    new, _ = store.add_inquiry(**_row())
    store.add_correction(old.id, "faq", "a1")
    store.add_correction(new.id, "faq", "a1")
    assert store.purge(90) == (1, 1)
    assert store.get_inquiry(old.id) is None and store.get_inquiry(new.id) is not None
    assert len(store.corrections()) == 1


def test_a_failed_insert_leaves_no_row(store: Store) -> None:
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Inquiry(**_row(source="webhook", external_id="x")))
        s.add(Inquiry(**_row(source="webhook", external_id="x")))
    assert store.count_inquiries() == 0


def test_an_inquiry_is_committed_when_added_and_found_with_every_column(store: Store) -> None:
    row, created = store.add_inquiry(**_row(source="webhook", external_id="m1", payload_sha256="ab" * 32,
                                            claim={"amounts": []}, topic_terms="補償"))
    assert created
    # Another engine (another worker or host) sees the row as soon as add_inquiry returns.
    other = Store(store.url)
    try:
        found = other.find_external("webhook", "m1")
    finally:
        other.engine.dispose()
    stored = store.get_inquiry(row.id)
    columns = [c.key for c in Inquiry.__table__.columns]
    assert found is not None
    assert {c: getattr(found, c) for c in columns} == {c: getattr(stored, c) for c in columns}
    assert store.find_external("webhook", "m2") is None and store.find_external("api", "m1") is None


def test_the_autocommit_insert_leaves_transactions_of_later_sessions_intact(store: Store) -> None:
    store.add_inquiry(**_row())
    # The same pooled connection must be back in transactional mode: the failed block rolls back whole.
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Inquiry(**_row(source="webhook", external_id="x")))
        s.flush()
        s.add(Inquiry(**_row(source="webhook", external_id="x")))
    assert store.count_inquiries() == 1


def test_twenty_concurrent_webhook_duplicates_on_this_database(database_url: str, models_dir: Path,
                                                               tmp_path: Path) -> None:
    import json
    import threading
    import time

    from triage import create_app
    from triage.webhook import sign

    from .conftest import WEBHOOK_SECRET, app_config

    app = create_app(app_config(models_dir, tmp_path, DATABASE_URL=database_url))
    body = json.dumps({"text": "不正利用されています"}, ensure_ascii=False).encode()
    ts = int(time.time())
    headers = {"webhook-id": "msg_c", "webhook-timestamp": str(ts), "Content-Type": "application/json",
               "webhook-signature": sign(WEBHOOK_SECRET, "msg_c", ts, body)}
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        c = app.test_client()
        barrier.wait()
        statuses.append(c.post("/api/v1/webhooks/inquiries", data=body, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    assert app.extensions["triage.store"].count_inquiries() == 1
    # Stopped first: a watcher tick in flight during dispose would leave its connection in the old pool.
    app.extensions["triage.live"].stop()
    app.extensions["triage.store"].engine.dispose()
