"""The compiled loops of triage/_fast.pyx (built by ``pip install -e .``), with a clear message when they are missing."""

from __future__ import annotations

from pathlib import Path

_HOW = "run `pip install -e .` in the checkout (it compiles triage/_fast.pyx)"

try:
    from . import _fast
    from ._fast import (
        Scorer,
        TermMatcher,
        char_ngrams,
        combine,
        counts,
        digit_runs,
        fold,
        locate,
        negated_clauses,
        nfkc,
        read_located,
        read_tokens,
        segment_features,
        set_fold,
        softmax_rows,
        split_segments,
    )
except ImportError as exc:  # a source tree used without installing it
    raise ImportError(f"triage._fast is missing or was built for another Python: {_HOW}.") from exc

# An editable install keeps the source next to the built module: one older than
# its source would run loops that the source no longer says.
_source = Path(__file__).with_name("_fast.pyx")
if _source.exists() and _source.stat().st_mtime > Path(_fast.__file__).stat().st_mtime:
    raise ImportError(f"triage._fast is older than triage/_fast.pyx: {_HOW}.")

__all__ = ["Scorer", "TermMatcher", "char_ngrams", "combine", "counts", "digit_runs", "fold", "locate", "negated_clauses", "nfkc", "read_located", "read_tokens",
           "segment_features", "set_fold", "softmax_rows", "split_segments"]
