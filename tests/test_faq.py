"""The FAQ knowledge base: validation of imported files, filling answers, versions in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage import faq
from triage.dataset import Row
from triage.store import Store

from .conftest import DATA

HEADER = "id,question,answer,keywords\n"
KNOWN = {"company", "incident_date", "hotline", "hours", "url", "refund_deadline"}


def _codes(data: bytes, known: set[str] | None = KNOWN) -> list[tuple[int | None, str]]:
    with pytest.raises(faq.FaqError) as info:
        faq.parse(data, "faq.csv", known=known)
    return [(p.line, p.code) for p in info.value.problems]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", [(None, "empty_file")], id="empty file"),
        pytest.param("id,question,answer\n".encode("utf-16"), [(None, "utf16")], id="utf-16"),
        pytest.param(b"id,question,answer\n\x00\x01\x02", [(None, "binary")], id="binary"),
        pytest.param(b"id,question,answer\na,q,\x81\x7f\n", [(None, "encoding")], id="neither utf-8 nor cp932"),
        pytest.param(b"question,answer\nq,a\n", [(1, "missing_columns")], id="no id column"),
        pytest.param(b"id,question\nx,q\n", [(1, "missing_columns")], id="no answer column"),
        pytest.param(HEADER.encode(), [(None, "no_entries")], id="header only"),
        pytest.param((HEADER + ",q,a,\n").encode(), [(2, "empty_id")], id="empty id"),
        pytest.param((HEADER + "a b,q,a,\n").encode(), [(2, "bad_id")], id="id with a space"),
        pytest.param((HEADER + "x" * 65 + ",q,a,\n").encode(), [(2, "bad_id")], id="id too long"),
        pytest.param((HEADER + "a,q1,a1,\nb,q2,a2,\na,q3,a3,\n").encode(), [(4, "repeated_id")], id="repeated id"),
        pytest.param((HEADER + "a,,a1,\n").encode(), [(2, "empty_question")], id="empty question"),
        pytest.param((HEADER + "a,q,  ,\n").encode(), [(2, "empty_answer")], id="empty answer"),
        pytest.param((HEADER + "a,q,{company}の{claim_form_url}へ,\n").encode(), [(2, "unknown_placeholder")],
                     id="placeholder the profile cannot fill"),
        pytest.param((HEADER + 'a,q,"unclosed\n').encode(), [(2, "malformed")], id="unclosed quote"),
        pytest.param((HEADER + "a,,,\nb,q,a,\nb,,x,\n").encode(),
                     [(2, "empty_answer"), (2, "empty_question"), (4, "empty_question"), (4, "repeated_id")],
                     id="every problem of every line, by line"),
    ],
)
def test_bad_files_are_refused_with_every_problem_by_line(data: bytes, expected: list[tuple[int | None, str]]) -> None:
    assert _codes(data) == expected


@pytest.mark.parametrize(
    ("data", "encoding", "ids"),
    [
        pytest.param((HEADER + "a,q,{company}です,kw\n").encode(), "utf-8", ["a"], id="utf-8"),
        pytest.param(("\ufeff" + HEADER + "a,q,{refund_deadline}まで,\n").encode(), "utf-8-sig", ["a"], id="bom"),
        pytest.param((HEADER + "a,①㈱～の件,髙橋です,\n").encode("cp932"), "cp932", ["a"], id="cp932 (Excel)"),
        pytest.param(b"ID, Question ,Answer\nx,q,a\n\n,,\ny,q2,a2\n", "utf-8", ["x", "y"],
                     id="header case and blank lines; keywords optional"),
        pytest.param((HEADER + 'a,q,"two\nlines",\n').encode(), "utf-8", ["a"], id="multi-line answer"),
    ],
)
def test_good_files_are_read(data: bytes, encoding: str, ids: list[str]) -> None:
    parsed = faq.parse(data, "ok.csv", known=KNOWN)
    assert parsed.encoding == encoding
    assert [e.id for e in parsed.entries] == ids


def test_without_a_profile_every_placeholder_is_allowed() -> None:
    assert faq.parse((HEADER + "a,q,{anything},\n").encode(), "x.csv", known=None).entries[0].answer == "{anything}"


def test_messages_exist_in_english_and_japanese_with_the_line() -> None:
    with pytest.raises(faq.FaqError) as info:
        faq.parse((HEADER + "a,q1,a1,\na,q2,{claim_form_url},\n").encode(), "dup.csv", known=KNOWN)
    err = info.value
    assert "dup.csv: 2 problem(s); nothing was imported" in str(err)
    assert "line 3: the id 'a' is already used on line 2" in str(err)
    assert err.ja() == ["3行目: id「a」は 2 行目でも使われています。id は重複できません。",
                        ("3行目: 回答の {claim_form_url} はインシデント設定にない差し込み項目です。"
                         "インシデント設定に追加するか、回答を直してください。")]
    for code, (en, ja) in faq.MESSAGES.items():
        assert en and ja and en != ja, code


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("{company}の{hotline}", {"company": "A社", "hotline": "0120"}, ("A社の0120", {"company": "A社", "hotline": "0120"}, [])),
        ("{company}と{missing}と{missing}", {"company": "A社"}, ("A社と{missing}と{missing}", {"company": "A社"}, ["missing"])),
        ("波括弧 { と } と {1}", {}, ("波括弧 { と } と {1}", {}, [])),
        ("", {}, ("", {}, [])),
    ],
)
def test_fill(template: str, values: dict[str, str], expected: tuple[str, dict[str, str], list[str]]) -> None:
    assert faq.fill(template, values) == expected


def test_export_round_trips(tmp_path: Path) -> None:
    entries = faq.read_entries(DATA / "faq.csv")
    data = faq.to_csv(entries)
    assert data.startswith(b"\xef\xbb\xbf")
    assert faq.parse(data, "again.csv").entries == entries


def test_suggestions_carry_scores_the_fill_and_stay_above_the_threshold() -> None:
    kb = faq.build(faq.read_entries(DATA / "faq.csv"), version=7)
    got = kb.suggest("どの情報が漏えいしたのですか。住所も漏れましたか", values={"company": "X社", "url": "https://x.example.jp",
                                                           "hotline": "0120-1", "hours": "毎日", "incident_date": "昨日"})
    assert 1 <= len(got) <= faq.TOP_K and kb.version == 7
    assert got[0]["id"] == "data_affected"
    assert all(s["score"] >= faq.MIN_SCORE for s in got)
    assert [s["score"] for s in got] == sorted((s["score"] for s in got), reverse=True)
    assert got[0]["filled"] == {"url": "https://x.example.jp", "hotline": "0120-1", "hours": "毎日"}
    assert "0120-1（毎日）" in got[0]["answer"] and got[0]["unfilled"] == []
    assert kb.suggest("zzzz qqqq") == []


def test_hit_rates_count_only_faq_rows_with_an_expected_id() -> None:
    kb = faq.build(faq.read_entries(DATA / "faq.csv"))
    rows = [
        Row("どの情報が漏えいしたのですか", "faq", 2, {"faq_id": "data_affected"}),
        Row("どの情報が漏えいしたのですか", "faq", 3, {"faq_id": "not_in_this_faq"}),
        Row("弁護士に相談します", "escalation", 4, {"faq_id": ""}),
        Row("補償はありますか", "faq", 5, {"faq_id": ""}),
    ]
    got = faq.hit_rates(kb, rows)
    assert (got["n"], got["top1"], got["top3"], got["unknown_ids"]) == (2, 0.5, 0.5, 1)


# -- versions ---------------------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Store:
    """A migrated store on SQLite and on PostgreSQL."""
    s = Store(database_url)
    s.create_schema()
    yield s
    s.engine.dispose()


def _version(store: Store, answer: str, activate: bool = True) -> int:
    parsed = faq.parse((HEADER + f"a,質問,{answer},\n").encode(), f"{answer}.csv")
    return faq.store_version(store, parsed, "tester", activate=activate)


def test_first_start_imports_the_bundled_faq_once(store: Store) -> None:
    first = faq.ensure(store, DATA)
    assert first is not None and faq.ensure(store, DATA) == first
    assert [v.id for v in faq.versions(store)] == [first]
    assert faq.get(store, first).n_entries == len(faq.read_entries(DATA / "faq.csv"))
    assert [e.action for e in store.live_events("faq")] == ["first-run"]


def test_hosts_starting_at_once_import_the_first_version_once(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from triage import config, incident

    others = [Store(store.url) for _ in range(4)]  # one engine each, like separate processes
    try:
        def start(s: Store) -> tuple[int | None, int | None]:
            return faq.ensure(s, DATA), incident.ensure(s, config.from_env({})).revision

        with ThreadPoolExecutor(len(others)) as pool:
            results = set(pool.map(start, others))
    finally:
        for s in others:
            s.engine.dispose()
    assert len(results) == 1
    assert len(faq.versions(store)) == 1 and len(incident.revisions(store)) == 1


def test_no_bundled_file_means_no_version(store: Store, tmp_path: Path) -> None:
    assert faq.ensure(store, tmp_path) is None and faq.versions(store) == []


def test_activate_and_rollback_walk_back_through_history(store: Store) -> None:
    v1, v2, v3 = (_version(store, name) for name in ("one", "two", "three"))
    assert faq.active_id(store) == v3
    assert faq.rollback(store, "t") == v2
    assert faq.rollback(store, "t") == v1  # twice goes two back, not back and forth
    with pytest.raises(faq.VersionError, match="nothing to roll back"):
        faq.rollback(store, "t")
    assert faq.activate(store, v3, "t") == v1
    assert faq.rollback(store, "t") == v1
    actions = [e.action for e in reversed(store.live_events("faq"))]
    assert actions == ["import", "import", "import", "rollback", "rollback", "activate", "rollback"]


def test_an_inactive_upload_changes_nothing_until_activated(store: Store) -> None:
    v1 = _version(store, "one")
    v2 = _version(store, "two", activate=False)
    assert faq.active_id(store) == v1
    with pytest.raises(faq.VersionError, match="nothing to roll back"):
        faq.rollback(store, "t")
    faq.activate(store, v2, "t")
    assert faq.rollback(store, "t") == v1


def test_unknown_versions_are_named(store: Store) -> None:
    with pytest.raises(faq.VersionError, match="no FAQ version 42") as info:
        faq.activate(store, 42, "t")
    assert "42" in info.value.ja
