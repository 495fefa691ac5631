"""The compiled loops of triage/_fast.pyx (built by ``pip install -e .``), with a clear message when they are missing."""

from __future__ import annotations

try:
    from ._fast import Scorer, char_ngrams, counts
except ImportError as exc:  # a source tree used without installing it
    raise ImportError(
        "triage._fast (compiled from triage/_fast.pyx) is missing or stale: run `pip install -e .` in the checkout."
    ) from exc

__all__ = ["Scorer", "char_ngrams", "counts"]
