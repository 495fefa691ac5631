"""docs/security.md maps threats and findings to tests: every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECURITY = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def _references() -> list[tuple[str, str | None]]:
    """Return (test file, test name or None) for each reference; `::name` continues the last file named."""
    refs = []
    for cell in re.findall(r"`([^`]+)`", SECURITY):
        m = re.fullmatch(r"(tests/test_\w+\.py)(?:::(\w+))?|::(\w+)", cell)
        if m is None:
            continue
        if m.group(1):
            refs.append((m.group(1), m.group(2)))
        elif refs:
            refs.append((refs[-1][0], m.group(3)))
    return refs


def test_every_test_named_in_the_security_notes_exists() -> None:
    refs = _references()
    assert len(refs) > 40
    missing = []
    for path, name in refs:
        file = ROOT / path
        if not file.is_file():
            missing.append(path)
        elif name and not re.search(rf"^def {name}\(", file.read_text(encoding="utf-8"), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_finding_of_the_hardening_issue_has_a_row() -> None:
    section = SECURITY.split("## Hardening pass (issue 12)", 1)[1]
    rows = re.findall(r"^\| (\d+) \|", section, re.MULTILINE)
    assert rows == [str(i) for i in range(1, 21)]


def test_the_readme_module_map_names_every_module_once() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    mapped = re.findall(r"^\| `(\w+\.py)` \|", readme, re.M)
    modules = sorted(p.name for p in (ROOT / "triage").glob("*.py"))
    assert sorted(mapped) == modules
