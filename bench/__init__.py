"""Benchmarks of triage: `python -m bench OUTDIR [--quick]` writes OUTDIR/report.md and OUTDIR/results.json.

Everything runs in one command on one model and the same inquiries, and
comparisons are reported as ratios measured in that run: on a small, shared
machine absolute figures move between runs, ratios much less.
"""
