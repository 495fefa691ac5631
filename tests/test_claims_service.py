"""Claims in the service: every classify answer, storage (also redacted), the pages, OpenAPI, export and CLI."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage import claims, intake
from triage.cli import cli
from triage.webhook import sign

from .conftest import WEBHOOK_SECRET, app_config, csrf_token

TEXT = "注文番号：A-20261103-0042 の代金12,800円を返金してください。カード 4111 1111 1111 1111 で払いました。"
CARD = "4111 1111 1111 1111"
EXPECTED = {
    "amounts": [(12800, "円")],
    "references": [("card_last4", "1111"), ("order", "A-20261103-0042")],
    "requests": ["refund"],
}


def _short(claim: dict) -> dict:
    return {
        "amounts": [(a["value"], a["unit"]) for a in claim["amounts"]],
        "references": [(r["kind"], r["value"]) for r in claim["references"]],
        "requests": claim["requests"],
    }


def _signed(body: bytes, msg_id: str) -> dict[str, str]:
    ts = int(time.time())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(WEBHOOK_SECRET, msg_id, ts, body),
            "Content-Type": "application/json"}


def test_api_classify_answers_with_the_claim_and_stores_it(client, auth_headers, app) -> None:
    resp = client.post("/api/v1/classify", json={"text": TEXT, "id": "t-1"}, headers=auth_headers)
    assert resp.status_code == 201
    body = resp.get_json()
    assert _short(body["claim"]) == EXPECTED
    assert CARD not in json.dumps(body["claim"]) and "4111111111111111" not in json.dumps(body["claim"])
    stored = app.extensions["triage.store"].get_inquiry(body["inquiry_id"])
    assert stored.claim == body["claim"]
    again = client.post("/api/v1/classify", json={"text": TEXT, "id": "t-1"}, headers=auth_headers).get_json()
    assert again["claim"] == body["claim"]
    got = client.get(f"/api/v1/inquiries/{body['inquiry_id']}", headers=auth_headers).get_json()
    assert got["claim"] == body["claim"]


def test_every_route_has_a_claim_even_when_nothing_is_found(client, auth_headers) -> None:
    body = client.post("/api/v1/classify", json={"text": "パスワードの変え方は？"}, headers=auth_headers).get_json()
    assert body["claim"] == claims.empty()


def test_batch_items_carry_their_claims_in_order(client, auth_headers) -> None:
    items = [{"id": "a", "text": TEXT}, {"id": "b", "text": "退会方法を教えて"}, {"id": "c", "text": "昨日5,000円の請求"}]
    results = client.post("/api/v1/classify/batch", json={"items": items}, headers=auth_headers).get_json()["results"]
    assert [r["id"] for r in results] == ["a", "b", "c"]
    assert _short(results[0]["claim"]) == EXPECTED
    assert results[1]["claim"] == claims.empty()
    assert [a["value"] for a in results[2]["claim"]["amounts"]] == [5000] and len(results[2]["claim"]["dates"]) == 1


def test_the_webhook_answer_carries_the_stored_claim(client) -> None:
    body = json.dumps({"text": TEXT}, ensure_ascii=False).encode()
    first = client.post("/api/v1/webhooks/inquiries", data=body, headers=_signed(body, "msg_claim")).get_json()
    assert _short(first["claim"]) == EXPECTED
    repeat = client.post("/api/v1/webhooks/inquiries", data=body, headers=_signed(body, "msg_claim")).get_json()
    assert repeat["duplicate"] is True and repeat["claim"] == first["claim"]


def test_store_redacted_keeps_the_fields_and_masks_their_words(models_dir: Path, tmp_path: Path) -> None:
    from triage import create_app
    from triage.auth import create_token

    app = create_app(app_config(models_dir, tmp_path, STORE_REDACTED=True))
    store = app.extensions["triage.store"]
    token = create_token(store, "t")
    text = TEXT + " 会員番号 090-1234-5678 にご連絡を。"
    resp = app.test_client().post("/api/v1/classify", json={"text": text}, headers={"Authorization": f"Bearer {token}"})
    stored = store.get_inquiry(resp.get_json()["inquiry_id"])
    dumped = json.dumps(stored.claim, ensure_ascii=False)
    assert _short(stored.claim)["amounts"] == EXPECTED["amounts"]
    assert ("card_last4", "1111") in _short(stored.claim)["references"]
    assert ("order", "A-20261103-0042") in _short(stored.claim)["references"]
    for needle in (CARD, "4111111111111111", "090-1234-5678", "09012345678"):
        assert needle not in dumped and needle not in stored.text
    store.engine.dispose()


def _force_route(monkeypatch: pytest.MonkeyPatch, label: str) -> None:
    original = intake.analyse
    monkeypatch.setattr(intake, "analyse", lambda *a, **k: {**original(*a, **k), "label": label})


def test_agent_page_shows_a_copyable_claim_table_for_compensation_routes(agent, monkeypatch) -> None:
    _force_route(monkeypatch, "compensation")
    html = agent.post("/", data={"text": TEXT, "csrf_token": csrf_token(agent)}).get_data(as_text=True)
    assert 'data-testid="claim"' in html and "12,800円" in html and "A-20261103-0042" in html and "返金" in html
    assert 'data-copy="claim-table-' in html and "表をコピー" in html
    assert CARD not in html.split('data-testid="claim"', 1)[1]
    _force_route(monkeypatch, "faq")
    html = agent.post("/", data={"text": TEXT, "csrf_token": csrf_token(agent)}).get_data(as_text=True)
    assert 'data-testid="claim"' not in html


def test_queue_and_detail_show_the_claim_to_the_claims_desk(agent, app) -> None:
    store = app.extensions["triage.store"]
    base = {"confidence": 0.9, "probabilities": {}, "model_version": "v", "needs_review": False}
    row, _ = store.add_inquiry(source="api", text=TEXT, label="compensation", claim=claims.extract(TEXT), **base)
    store.add_inquiry(source="api", text="退会したい 3,000円", label="faq", claim=claims.extract("3,000円"), **base)
    queue = agent.get("/queue?partial=1").get_data(as_text=True)
    assert queue.count('data-testid="claim-line"') == 1 and "12,800円" in queue
    detail = agent.get(f"/inquiries/{row.id}").get_data(as_text=True)
    assert 'data-testid="claim"' in detail and "A-20261103-0042" in detail and "カード下4桁" in detail


def test_detail_reads_relative_dates_from_the_arrival_not_from_today(agent, app) -> None:
    from datetime import UTC, datetime

    store = app.extensions["triage.store"]
    # A row from before claims were stored: the claim is extracted from its text and its arrival.
    row, _ = store.add_inquiry(source="api", text="昨日の請求を返金して", label="compensation", confidence=0.9,
                               probabilities={}, model_version="v", needs_review=False,
                               received_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    assert store.get_inquiry(row.id).claim is None
    assert "2026-11-19" in agent.get(f"/inquiries/{row.id}").get_data(as_text=True)


def test_openapi_describes_the_claim_on_every_answer(client) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert set(schemas["Claim"]["required"]) == set(claims.FIELDS)
    assert schemas["Claim"]["properties"]["requests"]["items"]["enum"] == list(claims.REQUESTS)
    assert "claim" in schemas["Classification"]["required"]
    assert schemas["BatchResponse"]["properties"]["results"]["items"]["properties"]["claim"]["$ref"].endswith("/Claim")
    assert schemas["WebhookResult"]["properties"]["claim"]["$ref"].endswith("/Claim")


# -- the export and the command line ----------------------------------------------------------


@pytest.fixture
def filled(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A database with compensation, corrected and other inquiries, and the CLI pointed at it."""
    from datetime import UTC, datetime

    from triage.store import Store

    url = f"sqlite:///{tmp_path / 'claims.sqlite'}"
    store = Store(url)
    store.create_schema()
    base = {"confidence": 0.9, "probabilities": {}, "model_version": "v", "needs_review": False}
    early = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    late = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    store.add_inquiry(source="api", text=TEXT, label="compensation", claim=claims.extract(TEXT), received_at=late, **base)
    formula = "=HYPERLINK(\"http://x\") 電話 090-1234-5678 に3,000円返して"
    store.add_inquiry(source="api", external_id="@cmd", text=formula, label="compensation", received_at=early, **base)
    moved, _ = store.add_inquiry(source="web", text="5,000円の補償を", label="faq", received_at=late, **base)
    store.add_correction(moved.id, "compensation", "agent1")
    away, _ = store.add_inquiry(source="web", text="7,000円返金", label="compensation", received_at=late, **base)
    store.add_correction(away.id, "faq", "agent1")
    store.add_inquiry(source="web", text="退会したい", label="faq", received_at=late, **base)
    store.engine.dispose()
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    return tmp_path


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_claims_export_writes_compensation_rows_masked_and_formula_safe(filled: Path) -> None:
    out = filled / "claims.csv"
    result = CliRunner().invoke(cli, ["claims", "export", str(out), "--bom"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not list(filled.glob(".claims.csv*"))  # the temporary file is gone
    rows = _read(out)
    # Oldest first; the one corrected to compensation is in, the one corrected away is out.
    assert [r["text"][:6] for r in rows] == ["'=HYPE", "注文番号：A", "5,000円"]
    first, second, third = rows
    assert first["external_id"] == "'@cmd" and first["amounts"] == "3,000円" and first["requests"] == "refund"
    assert "090-1234-5678" not in out.read_text(encoding="utf-8-sig") and "[PHONE]" in first["text"]
    assert second["order"] == "A-20261103-0042" and second["card_last4"] == "1111" and second["amounts"] == "12,800円"
    assert second["requests_ja"] == "返金" and second["received_at"].endswith("+09:00")
    assert CARD not in out.read_text(encoding="utf-8-sig")
    assert third["route"] == "compensation"
    assert list(rows[0]) == ["inquiry_id", "received_at", "source", "external_id", "route", "handled", *claims.COLUMNS,
                             "requests_ja", "text"]


def test_claims_export_since_a_day(filled: Path) -> None:
    out = filled / "recent.csv"
    result = CliRunner().invoke(cli, ["claims", "export", str(out), "--since", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 " in result.output and len(_read(out)) == 2
    bad = CliRunner().invoke(cli, ["claims", "export", str(out), "--since", "20/11/2026"])
    assert bad.exit_code == 2 and "%Y-%m-%d" in bad.output


def test_evaluate_claims_prints_every_field_and_json(tmp_path: Path) -> None:
    dev = str(Path(__file__).parent / "data" / "claims_dev.csv")
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate-claims", dev])
    assert result.exit_code == 0, result.output
    for field in claims.FIELDS:
        assert field in result.output
    misses = tmp_path / "misses.csv"
    report = json.loads(runner.invoke(cli, ["evaluate-claims", dev, "--json", "--misses", str(misses)]).output)
    assert report["n"] == 65 and set(report["fields"]) == set(claims.FIELDS)
    assert set(report["fields"]["amounts"]) >= {"precision", "recall", "f1", "tp", "fp", "fn", "support"}
    assert misses.read_text(encoding="utf-8").startswith("line,field,extra,missed")


def test_evaluate_claims_names_bad_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('text,received_at,expected\nok,2026-12-02,{}\nx,yesterday,{}\ny,,"{not json"\n', encoding="cp932")
    result = CliRunner().invoke(cli, ["evaluate-claims", str(bad)])
    assert result.exit_code == 1
    assert "line 3" in result.output and "line 4" in result.output and "Traceback" not in result.output


def test_classify_json_carries_the_claim(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("TRIAGE_GATE_CSV", "")
    result = CliRunner().invoke(cli, ["classify", "--json", TEXT])
    assert result.exit_code == 0, result.output
    assert _short(json.loads(result.output)["claim"]) == EXPECTED
