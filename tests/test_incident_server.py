"""A real `triage serve` (gunicorn, two workers) follows FAQ imports, profile changes and rollbacks without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from triage.faq import read_entries
from triage.registry import Registry

from .conftest import DATA
from .servers import RunningServer, create_token_direct, metrics, post_json, running_server
from .test_incident_admin import FAQ_CANDIDATES

pytestmark = pytest.mark.slow

# A bound on "within seconds" (workers poll every second), not a measurement.
LIVE_DEADLINE = 15.0
COMPANY = "株式会社ミナト商会"
HOTLINE = "0120-987-654"
NEW_ID = "minato_leak"


def _new_faq(question: str) -> str:
    """A FAQ of another company: its first entry answers `question`; ①㈱～ need CP932, not Shift_JIS."""
    return (
        "id,question,answer,keywords\n"
        f"{NEW_ID},{question},{{company}}の件でご心配をおかけしております①。詳しくは専用窓口 {{hotline}} "
        "（{hours}）へ㈱～。,漏えい 情報 窓口\n"
        "minato_refund,返金はありますか,返金については{url}でお知らせします。,返金 補償\n"
        "minato_pw,パスワードを変えるべきですか,はい。念のため変更をお願いします。,パスワード 変更\n"
    )


def _live_versions(server: RunningServer, item: str) -> dict[int, set[str]]:
    """Return, per worker pid, the versions of a live item whose triage_live_info gauge is 1."""
    out: dict[int, set[str]] = {pid: set() for pid in server.worker_pids()}
    for name, labels, value in metrics(server):
        if name == "triage_live_info" and labels.get("item") == item and value == 1.0:
            pid = int(labels["pid"])
            if pid in out:
                out[pid].add(labels["version"])
    return out


def _wait_all_workers(server: RunningServer, expected: dict[str, str]) -> dict[str, dict[int, set[str]]]:
    """Wait until every worker serves the expected version of each item; return what /metrics showed last."""
    deadline = time.monotonic() + LIVE_DEADLINE
    while True:
        seen = {item: _live_versions(server, item) for item in expected}
        if all(len(v) == server.workers and all(s == {expected[item]} for s in v.values())
               for item, v in seen.items()):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"not every worker follows {expected} within {LIVE_DEADLINE} s: {seen}\n{server.log()}")
        time.sleep(0.1)


def _classify(server: RunningServer, token: str, text: str) -> dict:
    status, body = post_json(server.url("/api/v1/classify"), {"text": text}, {"Authorization": f"Bearer {token}"})
    assert status == 201, (body, server.log())
    return body


def test_cli_import_profile_and_rollback_reach_every_worker_of_a_running_server(models_dir: Path,
                                                                               tmp_path: Path) -> None:
    router = Registry(models_dir).load(Registry(models_dir).active()).router
    query = next((t for t in FAQ_CANDIDATES if router.predict(t).label == "faq"), None)
    assert query is not None, "the tiny model routes none of the FAQ candidates to faq"
    bundled_ids = {e.id for e in read_entries(DATA / "faq.csv")}
    new_faq = tmp_path / "minato.csv"
    new_faq.write_bytes(_new_faq(query).encode("cp932"))
    duplicate = tmp_path / "duplicate.csv"
    duplicate.write_bytes((_new_faq(query) + f"{NEW_ID},重複した質問,別の回答,\n").encode("cp932"))

    with running_server({"TRIAGE_MODELS_DIR": str(models_dir)}, workers=2) as server:
        token = create_token_direct(server.env, "ticketing")
        workers = server.worker_pids()
        # The first start imported the bundled FAQ and stored the settings as profile revision 1.
        _wait_all_workers(server, {"faq": "1", "profile": "1"})
        before = _classify(server, token, query)
        assert before["label"] == "faq" and before["faq_version"] == 1
        assert {s["id"] for s in before["faq_suggestions"]} <= bundled_ids

        imported = server.cli("faq", "import", str(new_faq))
        assert "3 entries, valid (cp932)" in imported.stdout, imported.stdout
        server.cli("incident", "set", f"company={COMPANY}", f"hotline={HOTLINE}")
        _wait_all_workers(server, {"faq": "2", "profile": "2"})
        for _ in range(6):  # several requests: whichever worker takes them answers the same
            body = _classify(server, token, query)
            top = body["faq_suggestions"][0]
            assert (body["faq_version"], top["id"]) == (2, NEW_ID), body
            assert COMPANY in top["answer"] and HOTLINE in top["answer"] and "①" in top["answer"], top
            assert top["filled"]["company"] == COMPANY and top["filled"]["hotline"] == HOTLINE
            assert body["faq_threshold"] > 0 and all(s["score"] >= body["faq_threshold"]
                                                     for s in body["faq_suggestions"])

        refused = server.cli("faq", "import", str(duplicate), check=False)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"the id '{NEW_ID}' is already used on line 2" in refused.stderr and "line 5" in refused.stderr
        listing = server.cli("faq", "list").stdout
        assert len([line for line in listing.splitlines()[1:] if line.strip()]) == 2, listing
        time.sleep(1.5)  # more than one watcher tick: a change would have been picked up by now
        assert _live_versions(server, "faq") == {pid: {"2"} for pid in server.worker_pids()}
        assert _classify(server, token, query)["faq_suggestions"][0]["id"] == NEW_ID

        rolled = server.cli("faq", "rollback")
        assert "Rolled back to FAQ version 1" in rolled.stdout
        _wait_all_workers(server, {"faq": "1", "profile": "2"})
        for _ in range(4):
            body = _classify(server, token, query)
            assert body["faq_version"] == 1 and body["faq_suggestions"], body
            assert {s["id"] for s in body["faq_suggestions"]} <= bundled_ids
            # The bundled answers are filled from the profile that is still current.
            filled = {k: v for s in body["faq_suggestions"] for k, v in s["filled"].items()}
            assert filled and {filled.get("company", COMPANY), filled.get("hotline", HOTLINE)} == {COMPANY, HOTLINE}
        assert server.worker_pids() == workers, "a worker was restarted"
        assert "Traceback" not in server.log()
