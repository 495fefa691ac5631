"""Benchmarks of triage: `python -m bench OUTDIR [--quick]` writes OUTDIR/report.md and PNG plots.

Everything runs side by side in one process run on the same inquiries, and
comparisons are reported as ratios measured in that run: on a small, noisy
machine absolute figures move between runs, ratios much less.
"""
