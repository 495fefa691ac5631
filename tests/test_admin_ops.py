"""The admin page as ops use it: one truth after activate/rollback, reasons for gate-failed versions, Japanese."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from triage import dataset, messages_ja
from triage.admin import japan_time
from triage.registry import Registry

from .conftest import csrf_token


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def clone_version(root: Path, name: str, created: str, gate: dict | None = None) -> str:
    """Add a version that is a verified copy of the active one (same model file, own name and gate)."""
    registry = Registry(root)
    src = registry.path(registry.active())
    dest = root / name
    shutil.copytree(src, dest)
    meta = json.loads((dest / "metadata.json").read_text(encoding="utf-8"))
    meta.update(version=name, created=created)
    if gate is not None:
        meta["gate"] = gate
    (dest / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return name


FAILED_GATE = {
    "passed": False, "gate_csv": "data/test.csv", "active_version": "x",
    "reasons": ["escalation rows: the candidate gets 9 wrong that the active model gets right and 1 the other way "
                "(p = 0.011 < 0.05): a real drop",
                "what to do: read the rows below; add training rows of their kind and train again, "
                "keep the active model, or activate anyway with `--force REASON`"],
    "candidate": {"n": 600, "macro_f1": 0.81, "faq_recall": 0.9, "compensation_recall": 0.8, "escalation_recall": 0.7},
    "active": {"n": 600, "macro_f1": 0.85, "faq_recall": 0.9, "compensation_recall": 0.82, "escalation_recall": 0.8},
    "decisive": [{"text": "弁護士に相談して訴えます", "label": "escalation", "candidate": "faq"}],
}


def _serving(html: str) -> str:
    return re.search(r'data-testid="serving">([^<]*)<', html).group(1)


@pytest.fixture
def quiet(app):
    """The app with its watcher stopped: only the page's own actions can bring the worker up to date."""
    app.extensions["triage.live"].stop()
    return app


def test_the_page_shows_what_the_worker_serves_right_after_activate(admin, quiet, models_dir) -> None:
    v2 = clone_version(models_dir, "v2-later", "2999-01-01T00:00:00+00:00")
    assert _post(admin, "/admin/activate", version=v2).status_code == 303
    html = admin.get("/admin/").get_data(as_text=True)
    assert _serving(html) == v2
    assert quiet.extensions["triage.holder"].current.version == v2


def test_a_gate_failed_version_needs_a_reason(admin, app, models_dir) -> None:
    registry: Registry = app.extensions["triage.registry"]
    before = registry.active()
    bad = clone_version(models_dir, "v2-failed", "2999-01-01T00:00:00+00:00", gate=FAILED_GATE)
    page = admin.get("/admin/").get_data(as_text=True)
    assert f'data-testid="force-reason-{bad}"' in page
    _post(admin, "/admin/activate", version=bad)
    assert registry.active() == before
    assert "理由を入力してください" in admin.get("/admin/").get_data(as_text=True)
    _post(admin, "/admin/activate", version=bad, reason="エスカレーションは人が全件確認する")
    assert registry.active() == bad
    last = registry.audit_log()[-1]
    assert last["action"] == "force-activate" and last["reason"] == "エスカレーションは人が全件確認する"
    page = admin.get("/admin/").get_data(as_text=True)
    assert "モデル有効化（品質ゲート不合格・理由あり）" in page


def test_the_version_list_shows_both_models_figures_and_the_decisive_rows(admin, models_dir) -> None:
    clone_version(models_dir, "v2-failed", "2999-01-01T00:00:00+00:00", gate=FAILED_GATE)
    page = admin.get("/admin/").get_data(as_text=True)
    assert 'data-testid="gate-figures"' in page and "0.850" in page and "0.810" in page
    assert "弁護士に相談して訴えます" in page
    assert "次にすること" in page and "what to do" not in page
    assert "偶然では説明できない低下" in page


def test_the_audit_log_is_in_japanese_and_japan_time(admin, models_dir) -> None:
    v2 = clone_version(models_dir, "v2-later", "2999-01-01T00:00:00+00:00")
    _post(admin, "/admin/activate", version=v2)
    page = admin.get("/admin/").get_data(as_text=True)
    rows = re.findall(r'<tr data-testid="audit-row"><td>([^<]*)</td><td>([^<]*)</td>', page)
    assert rows and rows[0][1] == "モデル有効化" and rows[0][0].endswith("JST")
    assert all(action not in ("activate", "train", "rollback") for _, action in rows)


def test_japan_time() -> None:
    assert japan_time("2026-12-02T15:30:05+00:00") == "2026-12-03 00:30:05 JST"
    assert japan_time("2026-12-02T15:30:05") == "2026-12-03 00:30:05 JST"


def test_rollback_twice_goes_two_versions_back(admin, quiet, models_dir) -> None:
    registry = Registry(models_dir)
    v1 = registry.active()
    v2 = clone_version(models_dir, "v2", "2999-01-01T00:00:00+00:00")
    v3 = clone_version(models_dir, "v3", "2999-01-02T00:00:00+00:00")
    _post(admin, "/admin/activate", version=v2)
    _post(admin, "/admin/activate", version=v3)
    _post(admin, "/admin/rollback")
    assert _serving(admin.get("/admin/").get_data(as_text=True)) == v2
    _post(admin, "/admin/rollback")
    assert _serving(admin.get("/admin/").get_data(as_text=True)) == v1


def test_csv_errors_are_japanese_and_in_line_order(admin) -> None:
    data = "text,label\n同じ文,faq\n同じ文,compensation\n,faq\n別の文,urgent\n".encode()
    resp = admin.post("/admin/train", data={"csrf_token": csrf_token(admin), "csv": (io.BytesIO(data), "bad.csv")},
                      content_type="multipart/form-data")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "誤りのある行が 3 行あります" in html
    items = re.findall(r"<li>(\d+)行目: ([^<]*)</li>", html)
    assert [int(n) for n, _ in items] == [3, 4, 5]
    assert "本文（text）が空です" in html and "line " not in html


def _errors_of(content: str) -> dataset.DatasetError:
    with pytest.raises(dataset.DatasetError) as info:
        dataset.parse(content.encode(), "x.csv")
    return info.value


@pytest.mark.parametrize(
    "content",
    ["", "foo,bar\n1,2\n", "text,label\n", "text,label\n\"open,faq\n", "text,label\nA,faq\nA,escalation\n,faq\nB,\nC,x\n"],
)
def test_every_csv_message_has_japanese(content: str) -> None:
    exc = _errors_of(content)
    for message in [exc.args[0], *exc.errors]:
        ja = messages_ja.csv_error(message)
        assert ja != message and not re.search(r"[a-z]{4,} [a-z]{3,}", ja.split(": ", 1)[-1]), ja


def test_too_few_rows_and_alias_notes_have_japanese(tmp_path) -> None:
    p = tmp_path / "few.csv"
    p.write_text("text,label\nA,補償\n", encoding="utf-8")
    with pytest.raises(dataset.DatasetError) as info:
        dataset.load_training([p])
    assert messages_ja.csv_error(info.value.args[0]).startswith("学習には行が足りません")
    note = dataset.read(p).notes[0]
    assert messages_ja.csv_error(note) == "2行目: ラベル '補償' は 補償請求 として読みました。確実にするには 補償請求 と書いてください。"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("queued", "順番待ち"),
        ("cross-validation fold 1/5 (grouped by writer)", "交差検証 1/5 回目（grouped by writer）"),
        ("reading 120 texts into sentences and features", "120 件の本文を文と特徴量に分解中"),
        ("fitting the final model on all rows", "全件で最終モデルを学習中"),
        ("scoring against the active model", "現行モデルと比較中（品質ゲート）"),
        ("120 rows (faq 40, compensation 40, escalation 40)", "120 行（FAQ回答可 40, 補償請求 40, エスカレーション 40）"),
        ("reading /tmp/job-1.csv", "読み込み中: /tmp/job-1.csv"),
    ],
)
def test_progress_in_japanese(message: str, expected: str) -> None:
    assert messages_ja.progress(message) == expected


def test_gate_reasons_the_gate_writes_have_japanese() -> None:
    from triage.lifecycle import GateResult  # noqa: F401  (the reasons below are the ones gate() writes)

    reasons = [
        "no active model yet: the first model is activated",
        "no held-out CSV to compare on (TRIAGE_GATE_CSV is unset); set TRIAGE_GATE_CSV or activate by hand "
        "with `triage activate VERSION`",
        "the active model cannot be loaded (boom); the candidate replaces it",
        "all rows: the candidate gets 5 wrong that the active model gets right and 1 the other way "
        "(p = 0.109 < 0.05): a real drop",
        "macro-F1 0.850 → 0.861; no drop beyond what 600 held-out rows can tell from chance (McNemar, p ≥ 0.05)",
        *FAILED_GATE["reasons"],
    ]
    for r in reasons:
        ja = messages_ja.gate_reason(r)
        assert ja != r and "the candidate" not in ja, ja
