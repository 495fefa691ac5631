"""WSGI entry point: `gunicorn wsgi:app` (what `triage serve` runs)."""

from triage import create_app

app = create_app()
