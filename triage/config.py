"""Every setting in one table: name, default, help. Read from TRIAGE_* variables."""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting; the environment variable is TRIAGE_<name>."""

    name: str
    default: Any
    help: str
    type: type = str

    @property
    def env(self) -> str:
        """Return the environment variable that sets it."""
        return f"TRIAGE_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", None, "Signs session cookies and CSRF tokens. Required; the service refuses to start without it."),
    Setting("WEBHOOK_SECRET", None, "Standard Webhooks secret `whsec_<base64>` shared with contact systems. "
            "Without it the webhook endpoint answers 503 (fail closed)."),
    Setting("DATABASE_URL", None, "SQLAlchemy URL of the database. Default: SQLite file `triage.sqlite` in the instance folder."),
    Setting("MODELS_DIR", "models", "Directory of trained model versions (relative paths from the working directory)."),
    Setting("REGISTRY", "folder", "Where model versions are kept: `folder` (under `TRIAGE_MODELS_DIR`) or `database` "
            "(in `TRIAGE_DATABASE_URL`, for several hosts without a shared disk; `TRIAGE_MODELS_DIR` then only holds "
            "this host's training lock)."),
    Setting("DATA_DIR", "data", "Directory with the bundled training data (`inquiries.csv`) and `faq.csv` "
            "(imported as the first FAQ version on the first start)."),
    Setting("GATE_CSV", "data/gate.csv", "Held-out labelled CSV on which the quality gate compares a candidate with "
            "the active model (never a test set)."),
    Setting("HOST", "127.0.0.1", "Address `triage serve` listens on."),
    Setting("PORT", 8000, "Port `triage serve` listens on.", int),
    Setting("WORKERS", 0, "gunicorn worker processes; 0 means one per CPU core.", int),
    Setting("THREADS", 8, "Threads per worker process (gunicorn gthread): requests one worker serves at once.", int),
    Setting("TIMEOUT", 15.0, "Seconds a client has to send one whole request, headers and body; a slower "
            "connection is closed (408 once the body has started), so slow clients cannot hold threads.", float),
    Setting("KEEPALIVE", 5, "Seconds an idle keep-alive connection stays open for the next request.", int),
    Setting("MAX_CONTENT_LENGTH", 4 * 1024 * 1024, "Largest request body in bytes (413 above it).", int),
    Setting("MAX_TEXT_LENGTH", 20000, "Longest inquiry text in characters, before and after NFKC normalisation "
            "(422 above it).", int),
    Setting("MAX_UPLOAD_BYTES", 20 * 1024 * 1024, "Largest training CSV accepted on the admin page, in bytes (the "
            "upload route's own request limit, above `TRIAGE_MAX_CONTENT_LENGTH`).", int),
    Setting("BATCH_LIMIT", 1000, "Most items in one `/api/v1/classify/batch` request.", int),
    Setting("MAX_BATCH_CHARS", 500_000, "Most characters, counted after NFKC normalisation, in all items of one "
            "batch request together (its time budget: about 2-5 µs per character on one core).", int),
    Setting("STORE_REDACTED", False, "Store inquiry text with personal data replaced by placeholders.", bool),
    Setting("LOGIN_LIMIT", "5 per minute", "Failed login attempts allowed per account and per address (counted in the "
            "database, so across every worker and host); successful logins do not count."),
    Setting("SESSION_HOURS", 8, "Hours a login session lasts at most, however active (absolute lifetime).", int),
    Setting("SESSION_IDLE_MINUTES", 30, "Minutes without any request after which a login session ends "
            "(an open queue page keeps it alive).", int),
    Setting("SECURE_COOKIES", False, "Mark cookies `Secure` (set when served over TLS).", bool),
    Setting("RELOAD_SECONDS", 1.0, "How often each worker checks for a newly activated model, FAQ version or "
            "incident profile.", float),
    Setting("COMPANY", "株式会社サンプル", "First-start default of the profile's company name ({company}); "
            "then `triage incident set company=...`."),
    Setting("INCIDENT_DATE", "2026年11月20日", "First-start default of the incident date ({incident_date})."),
    Setting("HOTLINE", "0120-000-000", "First-start default of the dedicated help line ({hotline})."),
    Setting("HOURS", "平日9時〜18時", "First-start default of the help line's opening hours ({hours})."),
    Setting("URL", "https://www.example.jp/incident", "First-start default of the incident notice page ({url})."),
    Setting("TIMEZONE", "Asia/Tokyo", "Time zone of the times agents see on the queue and detail pages (an IANA name)."),
    Setting("WAIT_WARN_MINUTES", 15, "Minutes an unhandled inquiry may wait before the queue marks its waiting time "
            "as overdue.", int),
    Setting("LOG_LEVEL", "INFO", "Logging level (DEBUG, INFO, WARNING, ERROR)."),
    Setting("INSIGHT_HOURS", 24, "Hours the 状況 page, `triage insights` and the insight gauges look back by default.", int),
    Setting("CORRECTION_ALERT", 0.10, "Share of a route's inquiries corrected by agents above which the 状況 page "
            "warns (0.10 = 10%).", float),
    Setting("FAQ_GAP_SCORE", 0.20, "An inquiry routed faq whose best FAQ entry scores below this is a candidate "
            "FAQ gap on the 状況 page.", float),
    Setting("LOAD_MODEL", True, "Load (on first start: train) the model when the service starts; false only for "
            "tools that never classify.", bool),
)
# Variables the test suite reads; not settings of the service.
TEST_PREFIX = "TRIAGE_TEST_"


class ConfigError(Exception):
    """A setting that is missing or malformed; the message names the variable."""


def _convert(setting: Setting, raw: str) -> Any:
    if setting.type is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{setting.env}={raw!r}: use true or false.")
    try:
        return setting.type(raw)
    except ValueError:
        raise ConfigError(f"{setting.env}={raw!r}: expected a {setting.type.__name__}.") from None


def from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return every setting, from TRIAGE_* variables where set, else the default.

    An unknown TRIAGE_* variable is refused: a typo such as TRIAGE_STORE_REDACT
    would otherwise leave text stored unmasked without a word.
    """
    env = os.environ if environ is None else environ
    known = {s.env for s in SETTINGS}
    unknown = sorted(k for k in env if k.startswith("TRIAGE_") and k not in known and not k.startswith(TEST_PREFIX))
    if unknown:
        hints = []
        for name in unknown:
            # Compared without the common prefix, which would make every name look close.
            close = difflib.get_close_matches(name.removeprefix("TRIAGE_"), [k.removeprefix("TRIAGE_") for k in known], n=1)
            hints.append(f"{name} (did you mean TRIAGE_{close[0]}?)" if close else name)
        raise ConfigError(f"unknown setting {', '.join(hints)}; the settings are listed in the README "
                          "(`python -m triage.config` prints them). Remove or rename the variable.")
    out: dict[str, Any] = {}
    for s in SETTINGS:
        raw = env.get(s.env)
        out[s.name] = s.default if raw is None else _convert(s, raw)
    return out


def markdown_table() -> str:
    """Return the README's table of settings, generated from SETTINGS (a test checks the README is current)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(none)" if s.default is None else f"`{s.default}`"
        lines.append(f"| `{s.env}` | {default} | {s.help} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
