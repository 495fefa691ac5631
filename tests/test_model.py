"""Model round trip, routing policy, fast path and registry verification."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from triage.model import Policy, choose_policy
from triage.registry import Registry, RegistryError, check_version_name


def test_round_trip_saves_verifies_loads_and_predicts(models_dir: Path, tiny_rows: list[dict[str, str]]) -> None:
    registry = Registry(models_dir)
    version = registry.active()
    assert version is not None
    meta = registry.metadata(version)
    for key in ("version", "created", "model_sha256", "training_files", "rows_per_label", "metrics", "thresholds"):
        assert key in meta
    assert set(meta["versions"]) == {"python", "scikit-learn", "fugashi", "dictionary", "tokenizer"}
    assert meta["training_files"][0]["sha256"] and meta["rows_per_label"] == {
        "faq": 40, "compensation": 40, "escalation": 40}
    loaded = registry.load(version)
    prediction = loaded.router.predict("パスワードを変更する方法を教えてください")
    assert prediction.label in ("faq", "compensation", "escalation")
    assert abs(sum(prediction.probabilities.values()) - 1) < 1e-9
    assert (models_dir / version / "misclassified.csv").read_text(encoding="utf-8").startswith("text,label,predicted")


def test_single_text_path_matches_the_batch_path(models_dir: Path, tiny_rows: list[dict[str, str]]) -> None:
    loaded = Registry(models_dir).load(Registry(models_dir).active() or "")
    texts = [r["text"] for r in tiny_rows[::7]] + ["", "😀", "ｱｲｳ 090-0000-0000", "一文目です。二文目です！\n三文目"]
    expected = loaded.router.predict_proba(texts)
    fast = np.array([list(loaded.router.probabilities(t).values()) for t in texts])
    np.testing.assert_allclose(fast, expected, atol=1e-9)
    batch = loaded.router.predict_many(texts)
    assert [(b.label, b.reason, b.sentence) for b in batch] == [
        (p.label, p.reason, p.sentence) for p in map(loaded.router.predict, texts)]
    # predict_many scores text by text now: still what the sparse products of a batch give.
    np.testing.assert_allclose([list(b.probabilities.values()) for b in batch], expected, atol=1e-9)
    # The explained path scores every sentence; predict and predict_many only those the route reads.
    assert batch == [loaded.router.predict_explained(t)[0] for t in texts]


def test_the_batch_routes_alike_across_its_phases(models_dir: Path, tiny_rows: list[dict[str, str]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from triage import model as model_module

    router = Registry(models_dir).load(Registry(models_dir).active() or "").router
    texts = [r["text"] for r in tiny_rows[::3]] + ["", "一文目です。二文目です！\n三文目"]
    whole = router.predict_many(texts)
    assert len(whole) == len(texts)
    monkeypatch.setattr(model_module, "PHASE_TEXTS", 4)  # parts of four texts, the last one shorter
    assert router.predict_many(texts) == whole == [router.predict(t) for t in texts]
    assert router.predict_many([]) == []


def test_a_tampered_model_file_is_refused(models_dir: Path) -> None:
    registry = Registry(models_dir)
    version = registry.active() or ""
    path = models_dir / version / "model.joblib"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="SHA-256 mismatch"):
        registry.load(version)


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "", "x" * 65, "a..b"])
def test_unsafe_version_names_are_refused(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid version name"):
        check_version_name(name)


def test_policy_lowers_the_bar_for_escalation_only() -> None:
    policy = Policy(escalation_threshold=0.3, review_threshold=0.6)
    assert policy.route({"faq": 0.6, "compensation": 0.05, "escalation": 0.35}) == ("escalation", 0.35, True)
    assert policy.route({"faq": 0.75, "compensation": 0.05, "escalation": 0.2}) == ("faq", 0.75, False)


def test_choose_policy_reaches_the_escalation_recall_target() -> None:
    rng = np.random.default_rng(0)
    labels = ["escalation"] * 100 + ["faq"] * 100 + ["compensation"] * 100
    p_esc = np.concatenate([rng.uniform(0.1, 0.9, 100), rng.uniform(0.0, 0.4, 200)])
    # Each row's own class takes most of the rest; escalations' rest is split evenly.
    own = np.concatenate([(1 - p_esc[:100]) / 2, 0.95 - p_esc[100:]])
    other = 1 - p_esc - own
    faq = np.where(np.arange(300) < 200, own, other)
    comp = 1 - p_esc - faq
    proba = np.column_stack([faq, comp, p_esc])
    policy = choose_policy(labels, proba, recall_target=0.96)
    routed = [policy.route(dict(zip(["faq", "compensation", "escalation"], row, strict=True))) for row in proba]
    # Escalations are routed to a senior or marked for a second look: together at the target.
    caught = sum(r[0] == "escalation" or r[2] for r in routed[:100]) / 100
    assert caught >= 0.96
    assert policy.escalation_review_threshold < policy.escalation_threshold
    # The escalation bar itself is not dragged to the floor by the recall target.
    assert sum(r[0] == "escalation" for r in routed[100:]) < 100


def test_a_doubtful_route_is_marked_for_review() -> None:
    policy = Policy(escalation_threshold=0.4, review_threshold=0.5, escalation_review_threshold=0.2)
    assert policy.route({"faq": 0.7, "compensation": 0.05, "escalation": 0.25}) == ("faq", 0.7, True)
    assert policy.route({"faq": 0.85, "compensation": 0.05, "escalation": 0.1}) == ("faq", 0.85, False)


def test_metadata_json_is_plain_json(models_dir: Path) -> None:
    version = Registry(models_dir).active() or ""
    json.loads((models_dir / version / "metadata.json").read_text(encoding="utf-8"))


def test_predict_explained_equals_predict_and_explain(models_dir: Path, tiny_rows: list[dict[str, str]]) -> None:
    router = Registry(models_dir).load(Registry(models_dir).active() or "").router
    for text in [r["text"] for r in tiny_rows[::9]] + ["ｶﾞｷﾞ 090-1234-5678 ①㈱"]:
        p, explanation = router.predict_explained(text)
        assert p == router.predict(text)
        assert explanation == router.explain(text, p.label)
        for span in explanation["spans"]:
            assert 0 <= span["start"] < span["end"] <= len(text)


@pytest.mark.parametrize("inputs", [{"concept_inputs": True}, {"sentence_inputs": True}])
def test_combiner_inputs_score_alike_one_by_one_and_in_a_batch(tiny_rows: list[dict[str, str]],
                                                               inputs: dict[str, bool]) -> None:
    from triage.dataset import LABELS
    from triage.features import read_lexicon
    from triage.model import train

    from .conftest import DATA

    result = train([r["text"] for r in tiny_rows], [r["label"] for r in tiny_rows], folds=3,
                   lexicon=read_lexicon(DATA / "lexicon.csv"), negation=True, quotes=True, **inputs)
    model = result.model
    assert model.comb_coef.shape[0] > len(LABELS)
    texts = [r["text"] for r in tiny_rows[::9]] + ["訴訟は考えていませんが、「補償します」と書いてありました。いつですか", ""]
    np.testing.assert_allclose([list(model.probabilities(t).values()) for t in texts], model.predict_proba(texts),
                               atol=1e-9)
    assert [(p.label, p.reason, p.sentence) for p in model.predict_many(texts)] == [
        (p.label, p.reason, p.sentence) for p in map(model.predict, texts)]
