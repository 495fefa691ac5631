"""In-process timings, run by pytest-benchmark (`python -m bench` starts it; not part of the test suite).

    python -m pytest bench/timings.py --benchmark-json=OUT.json   # with BENCH_MODELS_DIR set

Every call is timed alone (pedantic mode, one iteration per round) on a
rotating set of real inquiries, so the median is the median call. Settings come
from the environment that `bench.run` sets: BENCH_MODELS_DIR (a registry with
an active version), BENCH_PEER_CSV (what the tokenizers' models train on), BENCH_TEST_CSV,
BENCH_LEXICON, BENCH_QUICK.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from bench import ROOT, tokenizers
from triage import claims, dataset
from triage.faq import build, read_entries
from triage.features import read_lexicon
from triage.model import InquiryModel, metrics, train
from triage.registry import Registry
from triage.text import normalize, raw_tokenize

QUICK = os.environ.get("BENCH_QUICK") == "1"
CHUNK = 100  # texts per batch call: the size of one batch request
SINGLE_ROUNDS = 600 if QUICK else 3000
BATCH_ROUNDS = 12 if QUICK else 60
PEER_ROUNDS = 3 if QUICK else 12  # Janome takes about a second per batch
PEER_TEST_STEP = 4 if QUICK else 1  # every n-th test row scores the tokenizers' models


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the timings with `python -m bench OUTDIR`")
    return value


def _cycle(items: Sequence[Any]) -> Callable[[], tuple[tuple[Any], dict[str, Any]]]:
    """A pedantic-mode setup that hands out the items in turn."""
    it = itertools.cycle(items)
    return lambda: ((next(it),), {})


@pytest.fixture(scope="session")
def model() -> InquiryModel:
    registry = Registry(_env("BENCH_MODELS_DIR"))
    return registry.load(registry.active() or "").router


@pytest.fixture(scope="session")
def test_rows() -> tuple[list[str], list[str]]:
    table = dataset.read(_env("BENCH_TEST_CSV"))
    return [r.text for r in table.rows], [r.label or "" for r in table.rows]


@pytest.fixture(scope="session")
def chunks(test_rows: tuple[list[str], list[str]]) -> list[list[str]]:
    texts = test_rows[0]
    return [texts[i : i + CHUNK] for i in range(0, len(texts) - CHUNK + 1, CHUNK)] or [texts]


# -- the floor: batch classification against MeCab's analysis alone ------------------------------------------


@pytest.mark.benchmark(group="floor")
def test_floor_raw_tokenize(benchmark: Any, chunks: list[list[str]]) -> None:
    benchmark.extra_info["texts_per_round"] = len(chunks[0])
    benchmark.pedantic(lambda c: [raw_tokenize(t) for t in c], setup=_cycle(chunks), rounds=BATCH_ROUNDS,
                       warmup_rounds=2)


@pytest.mark.benchmark(group="floor")
def test_floor_predict_many(benchmark: Any, model: InquiryModel, chunks: list[list[str]]) -> None:
    benchmark.extra_info["texts_per_round"] = len(chunks[0])
    benchmark.pedantic(model.predict_many, setup=_cycle(chunks), rounds=BATCH_ROUNDS, warmup_rounds=2)


# -- single inquiries ------------------------------------------------------------------------------------------


@pytest.mark.benchmark(group="single")
def test_single_predict(benchmark: Any, model: InquiryModel, test_rows: tuple[list[str], list[str]]) -> None:
    benchmark.pedantic(model.predict, setup=_cycle(test_rows[0]), rounds=SINGLE_ROUNDS, warmup_rounds=100)


@pytest.mark.benchmark(group="single")
def test_single_predict_explained(benchmark: Any, model: InquiryModel,
                                  test_rows: tuple[list[str], list[str]]) -> None:
    benchmark.pedantic(model.predict_explained, setup=_cycle(test_rows[0]), rounds=SINGLE_ROUNDS, warmup_rounds=100)


@pytest.mark.benchmark(group="single")
def test_single_raw_tokenize(benchmark: Any, test_rows: tuple[list[str], list[str]]) -> None:
    benchmark.pedantic(raw_tokenize, setup=_cycle(test_rows[0]), rounds=SINGLE_ROUNDS, warmup_rounds=100)


# -- claims extraction against the classify work of the same inquiries (issue 15: at most 20%) --------------


@pytest.mark.benchmark(group="claims")
def test_claims_extract(benchmark: Any, test_rows: tuple[list[str], list[str]]) -> None:
    benchmark.pedantic(claims.extract, setup=_cycle(test_rows[0]), rounds=SINGLE_ROUNDS, warmup_rounds=100)


@pytest.mark.benchmark(group="claims")
def test_claims_answer(benchmark: Any, model: InquiryModel, test_rows: tuple[list[str], list[str]]) -> None:
    """What a classify answer computes besides the claim: the explained route, FAQ suggestions for faq routes."""
    kb = build(read_entries(ROOT / "data" / "faq.csv"))  # the bundled FAQ, as a fresh install serves it

    def answer(text: str) -> None:
        if model.predict_explained(text)[0].label == "faq":
            kb.suggest(text)

    benchmark.pedantic(answer, setup=_cycle(test_rows[0]), rounds=SINGLE_ROUNDS, warmup_rounds=100)


# -- the same features read by another tokenizer ---------------------------------------------------------------


_PEERS: dict[str, dict[str, Any]] = {}


def _peer(name: str, test_rows: tuple[list[str], list[str]]) -> dict[str, Any]:
    """The tokenizer's model, trained on the same rows and scored on the same test rows as the others."""
    if name not in _PEERS:
        data = dataset.load_training([_env("BENCH_PEER_CSV")])
        texts, labels = test_rows[0][::PEER_TEST_STEP], test_rows[1][::PEER_TEST_STEP]
        with tokenizers.use(name):
            start = time.perf_counter()
            result = train(data.texts, data.labels, groups=data.groups, lexicon=read_lexicon(_env("BENCH_LEXICON")))
            fit = time.perf_counter() - start
            predicted = [p.label for p in result.model.predict_many(texts)]
        m = metrics(labels, predicted)
        _PEERS[name] = {"model": result.model, "info": {
            "tokenizer": tokenizers.describe(name), "train_rows": len(data.texts), "test_rows": len(predicted),
            "train_seconds": fit, "macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
            "escalation_recall": m["per_class"]["escalation"]["recall"], "words": len(result.model.words.vocabulary)}}
    return _PEERS[name]


@pytest.fixture(params=list(tokenizers.TOKENIZERS))
def name(request: pytest.FixtureRequest) -> str:
    """A tokenizer's name (skipped when its packages are not installed)."""
    for package in tokenizers.TOKENIZERS[request.param][1]:
        pytest.importorskip(package.replace("-", "_"))
    return request.param


@pytest.mark.benchmark(group="tokenizers")
def test_tokenizer_alone(benchmark: Any, name: str, chunks: list[list[str]]) -> None:
    normalized = [[normalize(t) for t in c] for c in chunks]
    benchmark.extra_info["texts_per_round"] = len(normalized[0])
    analyse = tokenizers.TOKENIZERS[name][0]
    benchmark.pedantic(lambda c: [analyse(t) for t in c], setup=_cycle(normalized), rounds=PEER_ROUNDS,
                       warmup_rounds=1)


@pytest.mark.benchmark(group="tokenizers")
def test_tokenizer_model(benchmark: Any, name: str, test_rows: tuple[list[str], list[str]],
                         chunks: list[list[str]]) -> None:
    peer = _peer(name, test_rows)
    benchmark.extra_info.update(peer["info"], texts_per_round=len(chunks[0]))
    with tokenizers.use(name):
        benchmark.pedantic(peer["model"].predict_many, setup=_cycle(chunks), rounds=PEER_ROUNDS, warmup_rounds=1)
