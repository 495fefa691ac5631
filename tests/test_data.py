"""The bundled data itself: size, label mix, registers, hard cases, near-duplicates, FAQ links."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from pathlib import Path

import pytest

from triage import dataset
from triage.faq import PLACEHOLDER_SETTINGS, read_entries

DATA = Path(__file__).resolve().parent.parent / "data"
REGISTERS = {"phone", "elderly", "chat", "angry", "email", "webform", "proxy", "mixed"}


@pytest.fixture(scope="module")
def train() -> dataset.Table:
    return dataset.read(DATA / "inquiries.csv")


@pytest.fixture(scope="module")
def test() -> dataset.Table:
    return dataset.read(DATA / "test.csv")


def test_training_size_and_label_mix(train: dataset.Table) -> None:
    assert len(train.rows) >= 2400
    share = {k: v / len(train.rows) for k, v in Counter(r.label for r in train.rows).items()}
    assert 0.35 <= share["faq"] <= 0.45
    assert 0.25 <= share["compensation"] <= 0.35
    assert 0.25 <= share["escalation"] <= 0.35


def test_every_register_is_at_least_a_tenth(train: dataset.Table, test: dataset.Table) -> None:
    for table in (train, test):
        counts = Counter(r.extra["register"] for r in table.rows)
        assert set(counts) == REGISTERS
        assert min(counts.values()) >= 0.10 * len(table.rows), counts


def test_a_quarter_of_each_label_are_boundary_cases(train: dataset.Table) -> None:
    for label in dataset.LABELS:
        rows = [r for r in train.rows if r.label == label]
        assert sum(bool(r.extra["boundary"]) for r in rows) >= 0.25 * len(rows), label


def test_lengths_range_from_a_few_characters_to_over_a_thousand(train: dataset.Table) -> None:
    lengths = [len(r.text) for r in train.rows]
    assert min(lengths) <= 10 and sum(n > 1000 for n in lengths) >= 20


def _trigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 3] for i in range(len(text) - 2)) or frozenset([text])


def near_duplicates(texts: list[str], limit: float) -> list[tuple[float, str, str]]:
    """Return pairs whose character-trigram Jaccard similarity exceeds limit."""
    grams = [_trigrams(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(grams[i]))
    sizes = [len(grams[i]) for i in order]
    found = []
    for pos, i in enumerate(order):
        # Jaccard <= |small| / |large|, so only sets up to |small| / limit can exceed it.
        end = bisect.bisect_right(sizes, sizes[pos] / limit)
        for j in order[pos + 1 : end]:
            inter = len(grams[i] & grams[j])
            if inter and inter / (len(grams[i]) + len(grams[j]) - inter) > limit:
                found.append((inter / (len(grams[i]) + len(grams[j]) - inter), texts[i], texts[j]))
    return found


def test_near_duplicate_check_finds_a_planted_pair() -> None:
    base = "カード情報が漏えいしたと聞きましたが、私の分も含まれているか確認してもらえますか"
    assert near_duplicates([base, base + "。", "まったく別の問い合わせです"], 0.8)


def test_no_near_duplicates_within_or_across_train_and_test(train: dataset.Table, test: dataset.Table) -> None:
    texts = [r.text for r in train.rows] + [r.text for r in test.rows]
    assert near_duplicates(texts, 0.8) == []


def test_test_set_is_separate_and_large_enough(train: dataset.Table, test: dataset.Table) -> None:
    assert len(test.rows) >= 500
    assert not {r.text for r in train.rows} & {r.text for r in test.rows}


def test_faq_rows_of_the_test_set_name_an_existing_entry(test: dataset.Table) -> None:
    ids = {e.id for e in read_entries(DATA / "faq.csv")}
    for row in test.rows:
        if row.label == "faq":
            assert row.extra["faq_id"] in ids, row.line
        else:
            assert not row.extra["faq_id"], row.line


def test_faq_entries_cover_the_incident_faq_with_known_placeholders() -> None:
    entries = read_entries(DATA / "faq.csv")
    assert len(entries) >= 40
    for e in entries:
        for name in re.findall(r"\{(\w+)\}", e.answer):
            assert name in PLACEHOLDER_SETTINGS, (e.id, name)


@pytest.mark.parametrize("name", ["inquiries.csv", "test.csv", "faq.csv"])
def test_contact_details_in_data_are_fictional(name: str) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    domains = {d.rstrip(".") for d in re.findall(r"[A-Za-z0-9_.+-]+@([A-Za-z0-9.-]+)", text)}
    assert all(d.endswith(("example.jp", "example.com")) for d in domains), domains
