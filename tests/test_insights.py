"""Ops insight: FAQ gaps, emerging topics, correction rates, volume; the CLI, the 状況 page, the gauges."""

from __future__ import annotations

import json
import random
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import sparse

from triage import dataset, insights
from triage.cli import cli
from triage.faq import read_entries
from triage.insights import Row, terms_of
from triage.insights_page import faq_csv_row, volume_chart
from triage.registry import Registry

from .conftest import DATA, csrf_token

# One topic the FAQ (data/faq.csv) does not cover: moving the membership app to a new phone,
# twenty ways of asking. Each scores below 0.2 against the FAQ (checked when written).
PLANTED_TOPIC = [
    "スマホを買い替えたら会員アプリの引き継ぎができません。引き継ぎはどこでするんですか",
    "新しいスマホにアプリを入れ直したら、前の端末のデータが引き継げませんでした",
    "スマホを買い替えたので、アプリのデータを新しい機種に移す手順を知りたいです",
    "来週スマホを買い替えます。アプリの引き継ぎは前もって準備が要りますか",
    "引き継ぎコードを発行しないまま古いスマホを下取りに出してしまいました",
    "iPhoneからAndroidに乗り換えたのですが、アプリは引き継ぎできますか",
    "アプリの引き継ぎ番号を入力してもエラーになって新しいスマホで使えません",
    "機種を替えてからアプリを開くと初期画面になっていて以前の履歴が消えています",
    "新しい端末にアプリを移したいのですが、引き継ぎの画面が見つかりません",
    "古いスマホが壊れて引き継ぎコードがわかりません。新しい機種でアプリを続けて使えますか",
    "スマホの買い替えでアプリのデータ移行をしたいです。どこから操作すればいいでしょうか",
    "スマホを新しくしたらアプリの会員証が表示されなくなりました。引き継ぎ方法を教えてください",
    "アプリの引き継ぎをしたら、新しいスマホでスタンプが0になっていました",
    "スマホを買い替える時にアプリのバックアップは必要ですか？引き継ぎのやり方を知りたい",
    "タブレットからスマホに乗り換えます。アプリの引き継ぎ手順はありますか",
    "新しいスマホでアプリの引き継ぎを始めたら、途中で止まってしまいます",
    "家族がスマホを買い替えたら、アプリの引き継ぎができず困っています",
    "スマホを替えたばかりです。アプリに前の端末のスタンプを引き継ぐにはどうすれば？",
    "新しい携帯でアプリを入れたけど、引き継ぎ用のパスコードを忘れました",
    "端末を交換したのでアプリの引き継ぎをしたい。手続きの流れを教えてください",
]
NOW = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
SETTINGS = {"FAQ_GAP_SCORE": 0.2, "CORRECTION_ALERT": 0.1, "DATA_DIR": str(DATA), "INSIGHT_HOURS": 24}


def bundled(n_per_label: int, seed: int = 3) -> list[dataset.Row]:
    """Rows of the separately written test set, n per label (fixed seed): topics the FAQ covers, and others."""
    table = dataset.read(DATA / "test.csv")
    rng = random.Random(seed)
    return [r for label in dataset.LABELS
            for r in rng.sample([r for r in table.rows if r.label == label], n_per_label)]


def row(i: int, text: str = "", minutes_ago: float = 10, label: str = "faq", score: float | None = 0.1,
        corrected: str | None = None, source: str = "api", version: str = "v1") -> Row:
    """An insight row as load_rows makes it."""
    return Row(i, NOW - timedelta(minutes=minutes_ago), source, label, version, score, terms_of(text), corrected)


# -- topic words ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("アプリの引き継ぎができません", {"アプリ", "引き継ぎ"}, {"の", "が", "ませ", "ん"}),
        # UniDic lemmas: する is 為る, a stop word; ください too.
        ("パスワードを変更してください", {"パスワード", "変更"}, {"為る", "下さる", "を"}),
        # Personal data reaches the words only as a placeholder.
        ("taro@example.jp に届いたメール", {"emailaddr", "メール"}, {"taro", "example"}),
        # Full width folds, and spelling variants meet in the lemma.
        ("ＵＳＢメモリを紛失", {"usb", "メモリー", "紛失"}, {"ＵＳＢ", "メモリ"}),
    ],
)
def test_topic_words_are_content_lemmas(text: str, present: set[str], absent: set[str]) -> None:
    words = set(terms_of(text).split())
    assert present <= words
    assert not (absent & words)


def test_every_placeholder_of_personal_data_reads_in_japanese() -> None:
    from triage.text import PLACEHOLDERS

    assert set(insights._PLACEHOLDER_JA) == set(PLACEHOLDERS.values())


def test_intake_stores_topic_words_and_the_best_faq_score(client, auth_headers, app) -> None:
    from triage.store import Inquiry

    body = client.post("/api/v1/classify", json={"text": "パスワードの変更方法を教えてください"},
                       headers=auth_headers).get_json()
    with app.extensions["triage.store"].session() as s:
        stored = s.get(Inquiry, body["inquiry_id"])
    assert "パスワード" in stored.topic_terms.split()
    suggestions = body["faq_suggestions"] if body["label"] == "faq" else []
    assert stored.faq_score == (suggestions[0]["score"] if suggestions else None)


def test_the_webhook_path_leaves_the_faq_score_to_insight_which_stores_it(client, app) -> None:
    from triage.store import Inquiry

    from .test_webhook import _headers

    store = app.extensions["triage.store"]
    labels = {}
    for n, r in enumerate(bundled(5)):
        payload = json.dumps({"text": r.text}, ensure_ascii=False).encode()
        body = client.post("/api/v1/webhooks/inquiries", data=payload,
                           headers=_headers(payload, f"msg_ins_{n}")).get_json()
        labels[body["inquiry_id"]] = body["label"]
    with store.session() as s:
        stored = [s.get(Inquiry, i) for i in labels]
    assert all(i.topic_terms and i.faq_score is None for i in stored)
    rows = insights.load_rows(store, insights.window_start(datetime.now(UTC), 1), settings=SETTINGS)
    assert {r.id for r in rows if r.faq_score is not None} == {i for i, label in labels.items() if label == "faq"}
    with store.session() as s:
        assert all((s.get(Inquiry, i).faq_score is not None) == (label == "faq") for i, label in labels.items())


# -- the pure functions -----------------------------------------------------------


def test_volume_counts_per_hour_route_and_channel() -> None:
    start = insights.window_start(NOW, 3)
    assert start == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    rows = [row(1, minutes_ago=5), row(2, minutes_ago=20, label="escalation", source="webhook"),
            row(3, minutes_ago=70, label="compensation"), row(4, minutes_ago=149, source="web"),
            row(5, minutes_ago=160)]  # 09:50: before the window
    v = insights.volume(rows, start, 3)
    assert v["hours"][0] == "2026-11-21T10:00:00+00:00" and len(v["hours"]) == 3
    assert v["routes"] == {"faq": [1, 0, 1], "compensation": [0, 1, 0], "escalation": [0, 0, 1]}
    assert v["channels"] == {"api": [0, 1, 1], "web": [1, 0, 0], "webhook": [0, 0, 1]}
    assert v["channel_routes"]["api"] == {"faq": 1, "compensation": 1, "escalation": 0}
    assert v["total"] == 4


def test_corrections_count_changed_routes_per_label_and_version_and_fill_the_confusion() -> None:
    rows = [row(1, corrected="escalation"), row(2, corrected="faq"), row(3), row(4, version="v2"),
            row(5, label="compensation", corrected="escalation", version="v2"), row(6, label="compensation"),
            row(7, label="escalation", corrected="compensation")]
    c = insights.corrections(rows, alert=0.4)
    assert c["total"] == 3 and c["confirmed"] == 1
    assert c["per_label"]["faq"] == {"inquiries": 4, "corrected": 1, "rate": 0.25, "alert": False}
    assert c["per_label"]["compensation"] == {"inquiries": 2, "corrected": 1, "rate": 0.5, "alert": True}
    assert c["per_label"]["escalation"]["rate"] == 1.0
    assert c["alerts"] == ["compensation", "escalation"]
    assert c["per_version"] == {"v1": {"inquiries": 5, "corrected": 2, "rate": 0.4},
                                "v2": {"inquiries": 2, "corrected": 1, "rate": 0.5}}
    assert c["confusion"]["labels"] == ["faq", "compensation", "escalation"]
    assert c["confusion"]["matrix"] == [[1, 0, 1], [0, 0, 1], [0, 1, 0]]
    # Strictly above the bar: a rate equal to it does not warn.
    assert insights.corrections(rows, alert=0.5)["alerts"] == ["escalation"]


def test_cluster_groups_near_rows_biggest_first_and_drops_small_groups() -> None:
    m = sparse.csr_matrix(np.array([[1, 0, 0], [0.99, 0.14, 0], [0, 1, 0], [0.98, 0, 0.2], [0, 0.99, 0.14],
                                    [0, 0, 1]], dtype=np.float32))
    m = sparse.csr_matrix(m.multiply(1 / np.sqrt(m.multiply(m).sum(axis=1))))
    groups = insights.cluster(m, max_distance=0.2, min_size=2)
    assert [sorted(g.tolist()) for g in groups] == [[0, 1, 3], [2, 4]]
    assert insights.cluster(m[:1]) == []


def test_faq_gaps_cluster_the_faq_questions_the_faq_does_not_answer() -> None:
    others = [r for r in bundled(20) if r.label == "faq"]
    rows = [row(i, text, score=0.15) for i, text in enumerate(PLANTED_TOPIC)]
    rows += [row(100 + i, r.text, score=0.1 + (i % 7) / 20) for i, r in enumerate(others)]
    rows += [row(200, PLANTED_TOPIC[0], score=0.5),  # the FAQ answers it well: no gap
             row(201, PLANTED_TOPIC[1], corrected="escalation"),  # not a faq question after all
             row(202, PLANTED_TOPIC[2], label="compensation", corrected="faq", score=0.1),  # agents said faq
             row(203, PLANTED_TOPIC[3], score=None)]  # never scored
    gaps = insights.faq_gaps(rows, threshold=0.2)
    assert gaps["threshold"] == 0.2 and gaps["unscored"] == 1
    top = gaps["clusters"][0]
    planted = set(range(len(PLANTED_TOPIC))) | {202}
    assert len(planted & set(top["inquiry_ids"])) >= 15
    assert not {200, 201, 203} & {i for c in gaps["clusters"] for i in c["inquiry_ids"]}
    assert {"アプリ", "引き継ぎ"} <= set(top["terms"])
    assert len(top["example_ids"]) == 2 and set(top["example_ids"]) <= set(top["inquiry_ids"])
    assert top["size"] == len(top["inquiry_ids"])
    assert insights.faq_gaps(rows, threshold=0.05)["clusters"] == []


def test_a_new_topic_of_the_last_hour_emerges_and_a_steady_one_does_not() -> None:
    background = [r.text for r in bundled(40, seed=5)]
    steady = [r.text for r in dataset.read(DATA / "test.csv").rows if r.extra.get("faq_id") == "unsubscribe"]
    rows, n = [], 0

    def add(text: str, minutes_ago: float) -> None:
        nonlocal n
        n += 1
        rows.append(row(n, text, minutes_ago=minutes_ago))

    for i, text in enumerate(background):  # five earlier hours ...
        add(text, 65 + (i * 7) % 300)
    for i in range(24):
        add(steady[i % len(steady)], 65 + i * 12)
    for i, text in enumerate(background[:40]):  # ... and the last one
        add(text, 1 + i)
    for i in range(8):
        add(steady[i % len(steady)], 2 + i * 5)
    new_ids = set()
    for i, text in enumerate(PLANTED_TOPIC[:12]):
        add(text, 3 + i * 4)
        new_ids.add(n)
    rows.sort(key=lambda r: r.received_at, reverse=True)
    result = insights.emerging(rows, NOW)
    assert result["recent"] == 60 and result["before"] == len(background) + 24
    top = result["clusters"][0]
    assert len(new_ids & set(top["inquiry_ids"])) >= 8 and top["growth"] >= insights.MIN_GROWTH
    assert "アプリ" in top["terms"] and len(top["example_ids"]) == 2
    steady_ids = {r.id for r in rows if r.terms == terms_of(steady[0])}
    for c in result["clusters"]:
        assert len(steady_ids & set(c["inquiry_ids"])) < len(c["inquiry_ids"]) / 2, c
    # Without earlier hours there is nothing to compare with.
    assert insights.emerging([r for r in rows if r.received_at >= NOW - insights.RECENT], NOW)["clusters"] == []


def test_volume_chart_stacks_routes_on_a_nice_scale() -> None:
    volume = {"hours": ["2026-11-21T10:00:00+00:00", "2026-11-21T11:00:00+00:00", "2026-11-21T15:00:00+00:00"],
              "routes": {"faq": [3, 0, 10], "compensation": [1, 0, 5], "escalation": [0, 0, 2]}}
    chart = volume_chart(volume, width=300, height=200)
    assert [b["total"] for b in chart["bars"]] == [4, 0, 17] and chart["peak"] == 17
    assert [t["value"] for t in chart["ticks"]] == [0, 5, 10, 15, 20]
    assert chart["bars"][0]["label"] == "19時" and chart["bars"][2]["day"] == "11/22"  # Japan time
    tall = chart["bars"][2]["segments"]
    assert [s["label"] for s in tall] == ["faq", "compensation", "escalation"]
    assert tall[0]["h"] == pytest.approx(2 * tall[1]["h"]) and tall[1]["h"] == pytest.approx(2.5 * tall[2]["h"])
    assert tall[0]["y"] + tall[0]["h"] == pytest.approx(chart["bottom"])
    assert chart["bars"][1]["segments"] == []
    assert "FAQ回答可 10件" in tall[0]["title"]


def test_the_faq_draft_row_reads_back_as_a_faq_entry(tmp_path: Path) -> None:
    entry = {"id": "app_transfer", "question": "アプリの引き継ぎ方法は？", "answer": "手順は{url}に、\n\"詳しく\"載せています。",
             "keywords": "アプリ 引き継ぎ 機種変更"}
    path = tmp_path / "faq.csv"
    path.write_bytes(faq_csv_row(entry))
    (got,) = read_entries(path)
    assert (got.id, got.question, got.answer, got.keywords) == tuple(entry.values())


# -- the store, the cache -----------------------------------------------------------


def test_load_rows_reads_the_window_newest_first_capped_with_latest_corrections(app) -> None:
    store = app.extensions["triage.store"]
    old, _ = store.add_inquiry(source="api", text="古い問い合わせ", label="faq", confidence=0.9, probabilities={},
                               needs_review=False, model_version="v0", topic_terms="古い")
    with store.session() as s:
        from triage.store import Inquiry

        s.get(Inquiry, old.id).received_at = datetime.now(UTC) - timedelta(hours=30)
    ids = [store.add_inquiry(source="web", text=f"問い合わせ{i}", label="faq", confidence=0.9, probabilities={},
                             needs_review=False, model_version="v1", topic_terms=f"語{i}", faq_score=0.1)[0].id
           for i in range(5)]
    store.add_correction(ids[0], "escalation", "a")
    store.add_correction(ids[0], "compensation", "a")
    since = insights.window_start(datetime.now(UTC), 24)
    rows = insights.load_rows(store, since)
    assert [r.id for r in rows] == ids[::-1]
    assert rows[-1].corrected == "compensation" and rows[-1].route == "compensation"
    assert rows[0].received_at.tzinfo is not None
    assert [r.id for r in insights.load_rows(store, since, cap=2)] == ids[:2:-1]


def test_rows_of_an_earlier_release_get_topic_words_once_and_faq_corrections_a_score(app) -> None:
    from triage.store import Inquiry

    store = app.extensions["triage.store"]
    legacy, _ = store.add_inquiry(source="api", text="アプリの引き継ぎができません", label="faq", confidence=0.9,
                                  probabilities={}, needs_review=False, model_version="v0")
    moved, _ = store.add_inquiry(source="api", text="メールマガジンの配信を止めたい", label="escalation",
                                 confidence=0.6, probabilities={}, needs_review=False, model_version="v0",
                                 topic_terms="メール マガジン 配信 止める")
    store.add_correction(moved.id, "faq", "agent")
    since = insights.window_start(datetime.now(UTC), 1)
    rows = {r.id: r for r in insights.load_rows(store, since, settings=SETTINGS)}
    assert {"アプリ", "引き継ぎ"} <= set(rows[legacy.id].terms.split())
    assert rows[moved.id].faq_score is not None and rows[moved.id].faq_score > 0.2  # the FAQ covers it
    with store.session() as s:  # kept for next time
        assert s.get(Inquiry, legacy.id).topic_terms == rows[legacy.id].terms
        assert s.get(Inquiry, moved.id).faq_score == rows[moved.id].faq_score


def test_reading_and_storing_back_work_on_every_database(database_url: str) -> None:
    from triage.store import Store

    store = Store(database_url)
    store.create_schema()
    try:
        a, _ = store.add_inquiry(source="webhook", external_id="m1", text="アプリの引き継ぎができません", label="faq",
                                 confidence=0.9, probabilities={"faq": 0.9}, needs_review=False, model_version="v1",
                                 topic_terms="アプリ 引き継ぎ 引継")
        b, _ = store.add_inquiry(source="api", text="パスワードの変更方法を教えてください", label="faq", confidence=0.9,
                                 probabilities={"faq": 0.9}, needs_review=False, model_version="v1")
        store.add_correction(a.id, "faq", "agent")
        rows = insights.load_rows(store, insights.window_start(datetime.now(UTC), 2), settings=SETTINGS)
        assert [r.id for r in rows] == [b.id, a.id]
        assert all(r.faq_score is not None and r.terms for r in rows) and rows[1].corrected == "faq"
        again = insights.load_rows(store, insights.window_start(datetime.now(UTC), 2))  # no FAQ needed now
        assert [(r.faq_score, r.terms) for r in again] == [(r.faq_score, r.terms) for r in rows]
        assert rows[0].received_at.tzinfo is not None
    finally:
        store.engine.dispose()


def test_results_are_cached_for_a_minute(app) -> None:
    store = app.extensions["triage.store"]
    insights.clear_cache()
    first = insights.cached(store, 24, app.config)
    store.add_inquiry(source="api", text="x", label="faq", confidence=0.9, probabilities={}, needs_review=False,
                      model_version="v1", topic_terms="")
    assert insights.cached(store, 24, app.config) is first
    assert insights.cached(store, 6, app.config) is not first
    insights.clear_cache()
    assert insights.cached(store, 24, app.config)["rows"] == first["rows"] + 1


# -- through the API, the CLI, the page --------------------------------------------


def classify(client, headers: dict[str, str], text: str) -> dict:
    resp = client.post("/api/v1/classify", json={"text": text}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def correct(client, headers: dict[str, str], inquiry_id: int, label: str) -> None:
    resp = client.post(f"/api/v1/inquiries/{inquiry_id}/correction", json={"label": label}, headers=headers)
    assert resp.status_code == 201, resp.get_json()


def plant(client, headers: dict[str, str]) -> set[int]:
    """Send bundled inquiries and the planted topic through the API; agents correct planted ones routed elsewhere."""
    for r in bundled(20):
        classify(client, headers, r.text)
    planted = set()
    for text in PLANTED_TOPIC:
        body = classify(client, headers, text)
        planted.add(body["inquiry_id"])
        if body["label"] != "faq":
            correct(client, headers, body["inquiry_id"], "faq")
    return planted


def run_insights(app, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(DATA))
    result = CliRunner().invoke(cli, ["insights", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_finds_the_planted_topic_as_one_faq_gap_cluster(app, client, auth_headers, monkeypatch) -> None:
    planted = plant(client, auth_headers)
    out = run_insights(app, monkeypatch)
    assert {"window_hours", "volume", "faq_gaps", "emerging", "corrections"} <= set(out)
    assert out["window_hours"] == 24 and out["volume"]["total"] == 80
    holding = [c for c in out["faq_gaps"]["clusters"] if len(planted & set(c["inquiry_ids"])) >= 15]
    assert len(holding) == 1, out["faq_gaps"]
    (cluster,) = holding
    # The cluster is the planted topic, not a catch-all.
    assert len(planted & set(cluster["inquiry_ids"])) >= 0.8 * cluster["size"]
    assert len(cluster["examples"]) == 2 and all(e["inquiry_id"] in planted for e in cluster["examples"])
    assert "アプリ" in cluster["terms"]


def test_cli_text_output_and_window(app, client, auth_headers, monkeypatch, tmp_path: Path) -> None:
    classify(client, auth_headers, "taro@example.jp です。アプリの引き継ぎができません")
    assert run_insights(app, monkeypatch, "--hours", "3")["window_hours"] == 3
    result = CliRunner().invoke(cli, ["insights"])
    assert result.exit_code == 0, result.output
    for part in ("Last 24 h", "by route", "Corrections", "FAQ gaps", "Emerging"):
        assert part in result.output
    assert CliRunner().invoke(cli, ["insights", "--hours", "0"]).exit_code == 2
    # It only reads: a database no release has migrated gets the command that fixes it, not a traceback.
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = CliRunner().invoke(cli, ["insights"])
    assert result.exit_code == 1 and "triage db upgrade" in result.output and "Traceback" not in result.output


def copy_version(registry: Registry, version: str) -> str:
    """Register a second version (a copy of the first) so that inquiries carry two model versions."""
    second = f"{version}-b"
    shutil.copytree(registry.path(version), registry.path(second))
    meta = registry.path(second) / "metadata.json"
    meta.write_text(json.dumps(dict(registry.metadata(version), version=second)), encoding="utf-8")
    return second


def test_corrections_made_through_the_api_are_counted_per_label_and_version(app, client, auth_headers,
                                                                            monkeypatch) -> None:
    # The watcher polls every 0.2 s: it may swap between activate and the refresh below, which then finds nothing.
    app.extensions["triage.live"].stop()
    registry: Registry = app.extensions["triage.registry"]
    first = registry.active()
    texts = [r.text for r in bundled(4, seed=11)]
    answers = [classify(client, auth_headers, t) for t in texts[:8]]
    second = copy_version(registry, first)
    registry.activate(second, actor="test", reason="two versions for insight")
    assert app.extensions["triage.holder"].refresh()
    answers += [classify(client, auth_headers, t) for t in texts[8:]]
    assert {a["model_version"] for a in answers} == {first, second}

    def other(label: str) -> str:
        return next(x for x in dataset.LABELS if x != label)

    changed = [answers[0], answers[3], answers[9]]
    for a in changed:
        correct(client, auth_headers, a["inquiry_id"], other(a["label"]))
    correct(client, auth_headers, answers[5]["inquiry_id"], answers[5]["label"])  # a confirmation
    correct(client, auth_headers, answers[6]["inquiry_id"], other(answers[6]["label"]))
    correct(client, auth_headers, answers[6]["inquiry_id"], answers[6]["label"])  # changed back: the latest counts

    c = run_insights(app, monkeypatch)["corrections"]
    assert c["total"] == 3 and c["confirmed"] == 2
    for label in dataset.LABELS:
        n = sum(a["label"] == label for a in answers)
        k = sum(a["label"] == label for a in changed)
        assert c["per_label"][label] == {"inquiries": n, "corrected": k, "rate": round(k / n, 4) if n else 0.0,
                                         "alert": n > 0 and k / n > 0.1}
    assert c["per_version"] == {first: {"inquiries": 8, "corrected": 2, "rate": 0.25},
                                second: {"inquiries": 4, "corrected": 1, "rate": 0.25}}
    matrix = c["confusion"]["matrix"]
    assert sum(map(sum, matrix)) == 5 and sum(matrix[i][i] for i in range(3)) == 2


def test_the_page_shows_chart_gaps_and_rates_to_admins_only(app, admin, agent, client, auth_headers) -> None:
    insights.clear_cache()
    plant(client, auth_headers)
    html = admin.get("/admin/insights/").get_data(as_text=True)
    assert "<h1>状況</h1>" in html and 'data-testid="volume-chart"' in html
    assert html.count("<rect ") >= 2 and "FAQ回答可" in html
    assert 'data-testid="gap-cluster"' in html and "この話題でFAQ項目を作る" in html
    assert 'data-testid="correction-rates"' in html
    assert "http://" not in html.split('data-testid="volume-chart"')[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", "")
    assert 'href="/admin/insights/"' in admin.get("/").get_data(as_text=True)
    assert agent.get("/admin/insights/").status_code == 403
    assert 'href="/admin/insights/"' not in agent.get("/").get_data(as_text=True)
    assert admin.get("/admin/insights/?hours=0").status_code == 400
    assert admin.get("/admin/insights/?hours=3").status_code == 200


def test_the_page_warns_when_a_route_is_corrected_too_often(app, admin, client, auth_headers) -> None:
    insights.clear_cache()
    answers = [classify(client, auth_headers, r.text) for r in bundled(2)]
    a = answers[0]
    correct(client, auth_headers, a["inquiry_id"], next(x for x in dataset.LABELS if x != a["label"]))
    # A rate is at most 1: at that bar nothing warns, whatever routes the small test model chose.
    app.config["CORRECTION_ALERT"] = 1.0
    assert 'data-testid="correction-alert"' not in admin.get("/admin/insights/").get_data(as_text=True)
    app.config["CORRECTION_ALERT"] = 0.05
    html = admin.get("/admin/insights/").get_data(as_text=True)
    assert 'data-testid="correction-alert"' in html and "しきい値 5%" in html


def test_a_gap_cluster_starts_a_faq_entry_that_downloads_as_one_csv_row(app, admin, client, auth_headers,
                                                                         tmp_path: Path) -> None:
    insights.clear_cache()
    planted = plant(client, auth_headers)
    body = classify(client, auth_headers, "taro@example.jp です。スマホを買い替えたらアプリの引き継ぎができません")
    html = admin.get("/admin/insights/").get_data(as_text=True)
    ids, terms = re.search(r'name="ids" value="([^"]+)">\s*<input type="hidden" name="terms" value="([^"]+)"',
                           html).groups()
    assert len(set(map(int, ids.split(","))) & planted) >= 15
    ids = f"{body['inquiry_id']},{ids}"  # with a text that carries an e-mail address
    draft = admin.get("/admin/insights/faq-draft", query_string={"ids": ids, "terms": terms}).get_data(as_text=True)
    assert f'name="keywords" value="{terms}"' in draft
    assert "[EMAIL]" in draft and "taro@example.jp" not in draft
    form = {"csrf_token": csrf_token(admin), "ids": ids, "id": "app_transfer", "question": "アプリの引き継ぎ方法は？",
            "answer": "手順は{url}をご覧ください。", "keywords": terms}
    resp = admin.post("/admin/insights/faq-draft", data=form)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "faq-app_transfer.csv" in resp.headers["Content-Disposition"]
    (tmp_path / "faq.csv").write_bytes(resp.data)
    (entry,) = read_entries(tmp_path / "faq.csv")
    assert (entry.id, entry.keywords) == ("app_transfer", terms)
    for bad, message in ((dict(form, id="App Transfer"), "ID"), (dict(form, answer=""), "回答を入力"),
                         (dict(form, question="=HYPERLINK(1)"), "先頭に")):
        resp = admin.post("/admin/insights/faq-draft", data=bad)
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_metrics_carry_the_correction_rate_and_the_largest_gap(app, client, auth_headers) -> None:
    insights.clear_cache()
    plant(client, auth_headers)
    text = client.get("/metrics").get_data(as_text=True)
    largest = re.search(r"^triage_insight_faq_gap_largest (\S+)$", text, re.MULTILINE)
    assert largest and float(largest.group(1)) >= 15
    for label in dataset.LABELS:
        assert re.search(rf'^triage_insight_correction_rate{{label="{label}"}} \S+$', text, re.MULTILINE)
