"""The incident profile: changes validated key by key, instructions per route and reason, revisions stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage import config, incident
from triage.features import REASONS
from triage.incident import Instruction, ProfileError
from triage.store import Store

DEFAULTS = incident.default_profile(config.from_env({}))


@pytest.mark.parametrize(
    ("changes", "changed", "check"),
    [
        ({"company": " 株式会社ミナト "}, ["company"], lambda p: p.facts["company"] == "株式会社ミナト"),
        ({"hotline": DEFAULTS.facts["hotline"]}, [], lambda p: p == DEFAULTS),
        ({"refund_deadline": "2027年1月31日"}, ["refund_deadline"],
         lambda p: p.values()["refund_deadline"] == "2027年1月31日"),
        ({"instruction.person_at_risk": "切らずに転送", "transfer.person_at_risk": "内線 9"},
         ["instruction.person_at_risk", "transfer.person_at_risk"],
         lambda p: p.instruction("escalation", "person_at_risk") == Instruction("切らずに転送", "内線 9")),
        ({"transfer.faq": ""}, ["transfer.faq"], lambda p: p.instruction("faq").transfer == ""),
        ({"url": "https://www.example.jp/news/1"}, ["url"], lambda p: p.facts["url"].endswith("/news/1")),
    ],
)
def test_valid_changes(changes: dict[str, str], changed: list[str], check) -> None:
    profile, got = DEFAULTS.updated(changes)
    assert got == changed
    assert check(profile)


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({"company": "  "}, [("company", "empty")]),
        ({"url": "www.example.jp"}, [("url", "bad_url")]),
        ({"hotline": "x" * 501}, [("hotline", "too_long")]),
        ({"RefundDeadline": "x"}, [("RefundDeadline", "bad_name")]),
        ({"返金期限": "x"}, [("返金期限", "bad_name")]),
        ({"instruction.unknown": "x"}, [("instruction.unknown", "unknown_key")]),
        ({"foo.bar": "x"}, [("foo.bar", "unknown_key")]),
        ({"instruction.legal": ""}, [("instruction.legal", "empty")]),
        ({"transfer.press": "内" * 101}, [("transfer.press", "too_long")]),
        ({"company": "a\x07b"}, [("company", "control")]),
        ({"company": "", "url": "ftp://x"}, [("company", "empty"), ("url", "bad_url")]),
    ],
)
def test_invalid_changes_change_nothing_and_say_why(changes: dict[str, str], codes: list[tuple[str, str]]) -> None:
    with pytest.raises(ProfileError) as info:
        DEFAULTS.updated(changes)
    assert [(p.key, p.code) for p in info.value.problems] == codes
    for p in info.value.problems:
        assert p.en() and p.ja() and p.en() != p.ja()


def test_an_empty_value_removes_an_extra_placeholder() -> None:
    with_extra, _ = DEFAULTS.updated({"claim_form_url": "https://x.example.jp/claim"})
    removed, changed = with_extra.updated({"claim_form_url": ""})
    assert changed == ["claim_form_url"] and "claim_form_url" not in removed.values()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["company=A社"], {"company": "A社"}),
        (["url=https://x.example.jp/?a=b"], {"url": "https://x.example.jp/?a=b"}),
        (["company=A", "company=B"], {"company": "B"}),
        (["refund_deadline="], {"refund_deadline": ""}),
    ],
)
def test_assignments(args: list[str], expected: dict[str, str]) -> None:
    assert incident.parse_assignments(args) == expected


def test_an_argument_without_equals_is_refused() -> None:
    with pytest.raises(ProfileError, match="not KEY=VALUE"):
        incident.parse_assignments(["company"])


@pytest.mark.parametrize(
    ("label", "reason", "expected"),
    [
        ("escalation", "person_at_risk", Instruction("通話を切らずに責任者へ転送", "内線 2001")),
        ("escalation", "press", incident.DEFAULT_INSTRUCTIONS["press"]),
        ("escalation", None, incident.DEFAULT_INSTRUCTIONS["escalation"]),
        ("escalation", "a_reason_of_a_newer_model", incident.DEFAULT_INSTRUCTIONS["other"]),
        ("compensation", None, incident.DEFAULT_INSTRUCTIONS["compensation"]),
        ("faq", "legal", incident.DEFAULT_INSTRUCTIONS["faq"]),
    ],
)
def test_instruction_for_route_and_reason(label: str, reason: str | None, expected: Instruction) -> None:
    assert DEFAULTS.instruction(label, reason) == expected


def test_every_route_and_reason_has_a_japanese_default_and_name() -> None:
    assert set(incident.DEFAULT_INSTRUCTIONS) == set(incident.INSTRUCTION_KEYS)
    assert set(REASONS) <= set(incident.INSTRUCTION_KEYS)
    for key, default in incident.DEFAULT_INSTRUCTIONS.items():
        assert default.text and default.transfer and key in incident.INSTRUCTION_JA


def test_first_revision_comes_from_the_settings_and_changes_are_new_revisions(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    store.create_schema()
    try:
        settings = config.from_env({"TRIAGE_COMPANY": "株式会社ミナト"})
        first = incident.ensure(store, settings)
        assert first.facts["company"] == "株式会社ミナト" and first.revision is not None
        assert incident.ensure(store, config.from_env({})) == first  # the settings are only the first start's
        changed, keys = first.updated({"hotline": "0120-111-222"})
        saved = incident.save(store, changed, "tester", keys)
        assert saved.revision != first.revision
        assert incident.current(store) == saved
        assert store.pointers()["profile"] == str(saved.revision)
        events = store.live_events("profile")
        assert [(e.action, e.actor, (e.detail or {}).get("changed")) for e in events] == [
            ("set", "tester", ["hotline"]), ("first-run", "first-run", None)]
    finally:
        store.engine.dispose()
