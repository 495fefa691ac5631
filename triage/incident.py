"""The incident profile: the facts of the case, extra FAQ placeholders, and what agents do on each route.

Stored as revisions in the database (``incident_profiles``); the ``profile``
live pointer names the current one, so every worker of every host uses the
same profile within seconds of a change. The ``TRIAGE_COMPANY``... settings
are only the first revision's defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .dataset import LABELS
from .features import CONCEPTS, REASONS

if TYPE_CHECKING:
    from .store import Store

POINTER = "profile"
# The placeholders every FAQ may use, with the setting that gives the first revision's value.
STANDARD = {
    "company": "COMPANY",
    "incident_date": "INCIDENT_DATE",
    "hotline": "HOTLINE",
    "hours": "HOURS",
    "url": "URL",
}
STANDARD_JA = {
    "company": "会社名",
    "incident_date": "発生日（公表日）",
    "hotline": "専用窓口の電話番号",
    "hours": "受付時間",
    "url": "お知らせページのURL",
}
# Instructions exist per route and, for escalations, per reason (severity order of triage.features).
INSTRUCTION_KEYS = (*LABELS, *REASONS)
INSTRUCTION_JA = {
    "faq": "FAQ回答可",
    "compensation": "補償請求",
    "escalation": "エスカレーション（理由が不明なとき）",
    **{reason: name for reason, name in CONCEPTS.values() if reason},
    "other": "その他のエスカレーション",
}


@dataclass(frozen=True)
class Instruction:
    """What an agent does with an inquiry of one route or escalation reason."""

    text: str
    transfer: str

    def to_dict(self) -> dict[str, str]:
        """Return the instruction as JSON-ready data."""
        return {"text": self.text, "transfer": self.transfer}


DEFAULT_INSTRUCTIONS: dict[str, Instruction] = {
    "faq": Instruction("FAQの回答を読み上げ、ほかにご不明点がないか確認する", "転送不要"),
    "compensation": Instruction("補償の手続きを案内し、補償窓口へ転送する", "補償窓口（内線 3001）"),
    "escalation": Instruction("保留にして責任者へ転送する", "責任者（内線 2000）"),
    "person_at_risk": Instruction("通話を切らずに責任者へ転送", "内線 2001"),
    "threat": Instruction("反論せず要件を記録し、責任者へ転送", "内線 2002"),
    "fraud_now": Instruction("被害の日時と金額を聞き取り、不正利用対応窓口へ転送", "不正利用対応窓口（内線 2003）"),
    "legal": Instruction("見解を述べず、法務担当へ転送", "法務担当（内線 2004）"),
    "press": Instruction("コメントせず、広報へ転送", "広報（内線 2005）"),
    "leadership": Instruction("責任者から折り返すと伝え、責任者へ転送", "責任者（内線 2000）"),
    "records": Instruction("本人確認のうえ、個人情報窓口へ転送", "個人情報窓口（内線 2006）"),
    "other": Instruction("要件を記録し、責任者へ転送", "責任者（内線 2000）"),
}

EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_VALUE_CHARS = 500
MAX_INSTRUCTION_CHARS = 200
MAX_TRANSFER_CHARS = 100
MAX_EXTRAS = 50

# code: (English for the CLI, Japanese for the admin page); {key} and {limit} are filled in.
MESSAGES = {
    "no_equals": ("{key!r} is not KEY=VALUE (e.g. company=株式会社サンプル).",
                  "「{key}」は「項目=値」の形ではありません。"),
    "unknown_key": (("unknown key {key!r}; use company, incident_date, hotline, hours, url, a lower-case "
                     "placeholder name (refund_deadline=...), instruction.ROUTE_OR_REASON or transfer.ROUTE_OR_REASON."),
                    "「{key}」という項目はありません。"),
    "empty": ("{key} must not be empty.", "{label}を入力してください。"),
    "too_long": ("{key} is longer than {limit} characters.", "{label}は{limit}文字以内にしてください。"),
    "bad_url": ("url must start with https:// or http://.", "URLは https:// か http:// で始めてください。"),
    "bad_name": ("{key!r}: a placeholder name is lower-case letters, digits and _ (at most 40, starting with a letter).",
                 "差し込み項目名「{key}」には半角英小文字・数字・_ を使い、英字で始めてください（40文字以内）。"),
    "too_many": ("at most {limit} extra placeholders.", "追加の差し込み項目は{limit}個までです。"),
    "control": ("{key} contains a control character.", "{label}に制御文字が含まれています。"),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile change, renderable in English (CLI) and Japanese (admin page)."""

    key: str
    code: str
    limit: int = 0

    def label(self) -> str:
        """Return the Japanese name of the key."""
        return key_label_ja(self.key)

    def en(self) -> str:
        """Return the message for the command line."""
        return MESSAGES[self.code][0].format(key=self.key, limit=self.limit)

    def ja(self) -> str:
        """Return the message for the admin page."""
        return MESSAGES[self.code][1].format(key=self.key, limit=self.limit, label=self.label())


class ProfileError(Exception):
    """A profile change that cannot be saved; ``problems`` says what, in both languages."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.en() for p in problems))
        self.problems = problems


def key_label_ja(key: str) -> str:
    """Return what the admin page calls a profile key."""
    if key in STANDARD_JA:
        return STANDARD_JA[key]
    kind, _, target = key.partition(".")
    if kind in ("instruction", "transfer") and target in INSTRUCTION_JA:
        return f"{INSTRUCTION_JA[target]}の{'対応' if kind == 'instruction' else '転送先'}"
    return key


@dataclass(frozen=True)
class Profile:
    """One revision of the incident profile."""

    facts: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)
    instructions: dict[str, Instruction] = field(default_factory=dict)
    revision: int | None = None

    def values(self) -> dict[str, str]:
        """Return every placeholder value ({company}, {refund_deadline}...)."""
        return {**self.extra, **self.facts}

    def instruction(self, label: str, reason: str | None = None) -> Instruction:
        """Return what to do with an inquiry routed to ``label`` (for escalations, by ``reason``)."""
        if label == "escalation" and reason:
            found = self.instructions.get(reason) or self.instructions.get("other")
            if found is not None:
                return found
        found = self.instructions.get(label)
        if found is not None:
            return found
        return DEFAULT_INSTRUCTIONS.get(label, DEFAULT_INSTRUCTIONS["escalation"])

    def to_data(self) -> dict[str, Any]:
        """Return the JSON stored in the database."""
        return {
            "facts": dict(self.facts),
            "extra": dict(self.extra),
            "instructions": {k: v.to_dict() for k, v in self.instructions.items()},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], revision: int | None = None) -> Profile:
        """Build a profile from stored JSON; instructions missing in old revisions get the defaults."""
        instructions = dict(DEFAULT_INSTRUCTIONS)
        for k, v in (data.get("instructions") or {}).items():
            if k in INSTRUCTION_KEYS:
                instructions[k] = Instruction(str(v.get("text", "")), str(v.get("transfer", "")))
        return cls(dict(data.get("facts") or {}), dict(data.get("extra") or {}), instructions, revision)

    def items(self) -> list[tuple[str, str]]:
        """Return every key and value as `triage incident set` names them."""
        out = [(k, self.facts.get(k, "")) for k in STANDARD]
        out += sorted(self.extra.items())
        for k in INSTRUCTION_KEYS:
            ins = self.instructions.get(k) or DEFAULT_INSTRUCTIONS[k]
            out += [(f"instruction.{k}", ins.text), (f"transfer.{k}", ins.transfer)]
        return out

    def updated(self, changes: dict[str, str]) -> tuple[Profile, list[str]]:
        """Return the profile with ``changes`` applied and the keys that changed; raise ProfileError."""
        facts, extra = dict(self.facts), dict(self.extra)
        instructions = dict(self.instructions)
        problems: list[Problem] = []
        changed: list[str] = []
        for key, raw in changes.items():
            value = raw.strip()
            if any(ord(c) < 32 for c in value):
                problems.append(Problem(key, "control"))
                continue
            if key in STANDARD:
                problem = _check_fact(key, value)
                if problem:
                    problems.append(problem)
                elif facts.get(key) != value:
                    facts[key] = value
                    changed.append(key)
            elif key.startswith(("instruction.", "transfer.")):
                kind, _, target = key.partition(".")
                if target not in INSTRUCTION_KEYS:
                    problems.append(Problem(key, "unknown_key"))
                    continue
                limit = MAX_INSTRUCTION_CHARS if kind == "instruction" else MAX_TRANSFER_CHARS
                if kind == "instruction" and not value:
                    problems.append(Problem(key, "empty"))
                    continue
                if len(value) > limit:
                    problems.append(Problem(key, "too_long", limit))
                    continue
                old = instructions.get(target) or DEFAULT_INSTRUCTIONS[target]
                new = Instruction(value, old.transfer) if kind == "instruction" else Instruction(old.text, value)
                if new != instructions.get(target):
                    instructions[target] = new
                    changed.append(key)
            elif "." in key or not key:
                problems.append(Problem(key, "unknown_key"))
            elif not EXTRA_NAME.match(key):
                problems.append(Problem(key, "bad_name"))
            elif not value:
                # An empty value removes an extra placeholder.
                if extra.pop(key, None) is not None:
                    changed.append(key)
            elif len(value) > MAX_VALUE_CHARS:
                problems.append(Problem(key, "too_long", MAX_VALUE_CHARS))
            elif extra.get(key) != value:
                extra[key] = value
                changed.append(key)
        if len(extra) > MAX_EXTRAS:
            problems.append(Problem("extra", "too_many", MAX_EXTRAS))
        if problems:
            raise ProfileError(problems)
        return Profile(facts, extra, instructions, self.revision), changed


def _check_fact(key: str, value: str) -> Problem | None:
    if not value:
        return Problem(key, "empty")
    if len(value) > MAX_VALUE_CHARS:
        return Problem(key, "too_long", MAX_VALUE_CHARS)
    if key == "url" and not value.startswith(("https://", "http://")):
        return Problem(key, "bad_url")
    return None


def parse_assignments(args: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Turn KEY=VALUE arguments into a dict (the last of a repeated key wins); raise ProfileError."""
    out: dict[str, str] = {}
    problems = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            problems.append(Problem(arg, "no_equals"))
            continue
        out[key.strip()] = value
    if problems:
        raise ProfileError(problems)
    return out


def default_profile(settings: dict[str, Any]) -> Profile:
    """Return the first revision: facts from the TRIAGE_* settings, the default instructions."""
    facts = {k: str(settings.get(setting) or "") for k, setting in STANDARD.items()}
    return Profile(facts, {}, dict(DEFAULT_INSTRUCTIONS))


# -- in the database ----------------------------------------------------------


def load(store: Store, revision: int) -> Profile:
    """Return one stored revision."""
    from .store import IncidentProfile

    with store.session() as s:
        row = s.get(IncidentProfile, revision)
        if row is None:
            raise LookupError(f"no incident profile revision {revision}")
        return Profile.from_data(row.data, row.id)


def current(store: Store) -> Profile | None:
    """Return the revision the ``profile`` pointer names, or None before the first start."""
    value = store.pointers().get(POINTER)
    return load(store, int(value)) if value is not None else None


def ensure(store: Store, settings: dict[str, Any]) -> Profile:
    """Return the current profile, storing the first revision from the settings if there is none."""
    from .store import IncidentProfile

    found = current(store)
    if found is not None:
        return found
    first = default_profile(settings)
    try:
        with store.session() as s:
            row = IncidentProfile(created_by="first-run", data=first.to_data())
            s.add(row)
            s.flush()
            store.set_pointer(s, POINTER, str(row.id), "first-run", "first-run",
                              detail={"from": "TRIAGE_* settings"}, first=True)
    except IntegrityError:
        pass  # another process stored the first revision at the same moment: use theirs
    found = current(store)
    if found is None:  # pragma: no cover - the insert above or the other process's committed one
        raise LookupError("the first incident profile could not be stored")
    return found


def save(store: Store, profile: Profile, actor: str, changed: list[str]) -> Profile:
    """Store ``profile`` as a new revision and point every worker at it."""
    from .store import IncidentProfile

    with store.session() as s:
        row = IncidentProfile(created_by=actor, data=profile.to_data())
        s.add(row)
        s.flush()
        store.set_pointer(s, POINTER, str(row.id), actor, "set", detail={"changed": changed})
        revision = row.id
    return Profile(profile.facts, profile.extra, profile.instructions, revision)


def revisions(store: Store, limit: int = 20) -> list[Any]:
    """Return the latest stored revisions, newest first."""
    from .store import IncidentProfile

    with store.session() as s:
        return list(s.scalars(select(IncidentProfile).order_by(IncidentProfile.id.desc()).limit(limit)))
