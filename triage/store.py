"""Persistence with SQLAlchemy: inquiries, corrections, users, API tokens, training jobs,
and what ops change while the service runs (FAQ versions, incident profiles, live pointers).

SQLite in the instance folder by default (WAL, so readers never block the
writer); any SQLAlchemy URL through TRIAGE_DATABASE_URL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    false,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload, sessionmaker

REVIEW_DECISIONS = ("accepted", "rejected")


def utcnow() -> datetime:
    """Return the current time in UTC (stored naive-free)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return a stored time as an aware UTC datetime (SQLite gives DateTime(timezone=True) back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of the schema."""


class Inquiry(Base):
    """One inquiry as received, with the classification made when it arrived."""

    __tablename__ = "inquiries"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_inquiry_source_external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    label: Mapped[str] = mapped_column(String(16), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[str] = mapped_column(String(80))
    # Amounts, dates, references and requests (triage.claims); None for rows stored before revision c001.
    claim: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The escalation reason the model found (triage.features.REASONS); None before revision d001 and off escalation.
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The agent who took the inquiry ("assign to me"); None while nobody has.
    assignee: Mapped[str | None] = mapped_column(String(80), nullable=True)
    classified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    handled: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by: Mapped[str | None] = mapped_column(String(80))
    # SHA-256 of the delivery a webhook row came from: a repeat with another body is a conflict to report.
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    # For ops insight (triage.insights): the best FAQ score of a faq route, and the
    # topic words (content-word lemmas) of the text, both taken when it arrived.
    faq_score: Mapped[float | None] = mapped_column(Float)
    topic_terms: Mapped[str | None] = mapped_column(Text)
    corrections: Mapped[list[Correction]] = relationship(
        back_populates="inquiry", cascade="all, delete-orphan", order_by="Correction.id"
    )

    @property
    def corrected_label(self) -> str | None:
        """Return the latest agent correction, if any."""
        return self.corrections[-1].label if self.corrections else None

    @property
    def route(self) -> str:
        """Return the effective route: the latest correction, else the model's label."""
        return self.corrected_label or self.label


class Correction(Base):
    """An agent's statement of the right route for an inquiry."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # An admin's review before the correction is exported for training: None (pending), "accepted", "rejected".
    review: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    inquiry: Mapped[Inquiry] = relationship(back_populates="corrections")


class User(Base):
    """An agent or admin who logs in to the web pages."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthSession(Base):
    """A login session the server can end: the cookie holds a random token, only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """One failed login, counted per account and per address by every worker alike."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_created_at", "key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ApiToken(Base):
    """A bearer token of one contact system; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrainingJob(Base):
    """A training started from the admin page, visible to every worker."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    progress: Mapped[str] = mapped_column(Text, default="")
    started_by: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # The `triage train` process that runs the job: a job whose process is gone is marked failed.
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    upload_path: Mapped[str | None] = mapped_column(Text)


class LivePointer(Base):
    """What every worker should serve of one live item ("faq", "profile"; later "model").

    Workers poll this small table; changing a row is how a change reaches every
    worker of every host without a restart.
    """

    __tablename__ = "live_pointers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80))


class LiveEvent(Base):
    """One change of a live item: the history rollback walks and the audit log shows."""

    __tablename__ = "live_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(200))
    previous: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class FaqVersion(Base):
    """An imported FAQ, kept whole so that any version can be activated or exported again."""

    __tablename__ = "faq_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16))
    n_entries: Mapped[int] = mapped_column(Integer)
    # [{"id", "question", "answer", "keywords"}, ...] in file order.
    entries: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class IncidentProfile(Base):
    """One revision of the incident profile (facts, extra placeholders, agent instructions)."""

    __tablename__ = "incident_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ModelVersion(Base):
    """One trained model version of the database registry (TRIAGE_REGISTRY=database), kept whole.

    ``model`` holds the joblib bytes; ``meta`` the metadata whose ``model_sha256`` is checked
    before the bytes are ever unpickled.
    """

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[bytes] = mapped_column(LargeBinary)
    report: Mapped[str] = mapped_column(Text, default="")
    misclassified: Mapped[str] = mapped_column(Text, default="")


class ModelEvent(Base):
    """The database registry's history and audit log (train, activate, rollback), one row each."""

    __tablename__ = "model_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(80))
    version: Mapped[str | None] = mapped_column(String(64))
    previous: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Store:
    """An engine and a session factory over one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"pool_pre_ping": not is_sqlite}
        if is_sqlite:
            # Wait for the writer instead of failing at once under bursts.
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine: Engine = create_engine(url, **kwargs)
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "handle_error", _discard_broken_connections)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # One-statement writes on the request path commit with the statement: in SQLite the write lock
        # is then held only inside the C call, not until Python (waiting for the GIL behind a thread
        # that is classifying) gets round to COMMIT while the other writers sleep in SQLite's busy
        # handler. One round trip instead of three on PostgreSQL.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (idempotent; runs on start)."""
        from .migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on any error."""
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def ping(self, write: bool = True) -> None:
        """Raise if the database cannot answer, or (``write``) cannot take a write.

        The write changes nothing (an UPDATE of no row, rolled back) but needs
        what a real write needs: a connection that is not read-only and the
        write lock. A connection that fails it is discarded (see
        _discard_broken_connections), so the check is tried once more on a new one.
        """
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    conn.execute(select(1))
                    if write:
                        conn.execute(update(User).where(false()).values(name=User.name))
                    conn.rollback()
                return
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    # -- live pointers (what every worker serves) ---------------------------
    def pointers(self) -> dict[str, str]:
        """Return every live pointer as {name: value} (one small query; workers poll it)."""
        with self.engine.connect() as conn:
            return {name: value for name, value in conn.execute(select(LivePointer.name, LivePointer.value))}

    def set_pointer(self, s: Session, name: str, value: str, actor: str, action: str,
                    detail: dict[str, Any] | None = None, first: bool = False) -> str | None:
        """Point a live item at a value within session ``s`` and record the event; return the previous value.

        ``first`` only creates the pointer: if another process created it meanwhile, IntegrityError
        rolls the caller's whole transaction back (first start of several hosts at once).
        """
        # FOR UPDATE: two admins activating at once are serialised (PostgreSQL; SQLite has one writer anyway).
        row = None if first else s.scalars(select(LivePointer).where(LivePointer.name == name).with_for_update()).first()
        previous = row.value if row is not None else None
        if row is None:
            s.add(LivePointer(name=name, value=value, updated_by=actor, updated_at=utcnow()))
        else:
            row.value, row.updated_by, row.updated_at = value, actor, utcnow()
        s.add(LiveEvent(name=name, action=action, value=value, previous=previous, actor=actor, detail=detail))
        # Flushed here: a concurrent first insert of the same name fails now, inside the caller's block.
        s.flush()
        return previous

    def record_event(self, s: Session, name: str, action: str, actor: str, value: str | None = None,
                     detail: dict[str, Any] | None = None) -> None:
        """Record a change that moves no pointer (an import kept inactive)."""
        s.add(LiveEvent(name=name, action=action, value=value, actor=actor, detail=detail))

    def live_events(self, name: str | None = None, limit: int | None = 50) -> list[LiveEvent]:
        """Return the events of one live item (or all), newest first."""
        with self._sessions() as s:
            q = select(LiveEvent)
            if name is not None:
                q = q.where(LiveEvent.name == name)
            q = q.order_by(LiveEvent.id.desc())
            if limit is not None:
                q = q.limit(limit)
            return list(s.scalars(q))

    # -- inquiries --------------------------------------------------------
    def add_inquiry(self, **fields: Any) -> tuple[Inquiry, bool]:
        """Insert an inquiry; with a repeated (source, external_id) return the stored one.

        Returns (inquiry, created). The row is committed before this returns.
        """
        now = utcnow()
        values = {"received_at": now, "classified_at": now, "handled": False, **fields}
        once = _INSERT_ONCE.get(self.engine.dialect.name) if fields.get("external_id") is not None else None
        if once is not None:
            # A repeated id is no error here: one statement inserts the row or does nothing (and returns no
            # id), so that callers need not read before they write (a round trip per delivery).
            with self._autocommit.connect() as conn:
                pk = conn.execute(once, values).scalar()
            if pk is not None:
                return Inquiry(id=pk, **values), True
            existing = self.find_external(fields["source"], fields["external_id"])
            if existing is not None:
                return existing, False
            # The stored row was purged in between: insert as a new one below.
        try:
            # One prebuilt Core statement with bound parameters: its compiled form is cached, whereas
            # insert(Inquiry).values(**values) builds and keys a new ORM statement per row (3x the cost).
            # A single INSERT is atomic by itself: autocommit, see __init__.
            with self._autocommit.connect() as conn:
                pk = conn.execute(_INSERT_INQUIRY, values).inserted_primary_key[0]
            return Inquiry(id=pk, **values), True
        except IntegrityError:
            if fields.get("external_id") is None:
                raise
            existing = self.find_external(fields["source"], fields["external_id"])
            if existing is None:
                raise
            return existing, False

    def find_external(self, source: str, external_id: str) -> Inquiry | None:
        """Return the inquiry a system already sent under this id (its columns only, without corrections)."""
        # Asked on every webhook delivery: a plain read, not an ORM session (a quarter of the cost).
        with self.engine.connect() as conn:
            row = conn.execute(_FIND_EXTERNAL, {"source": source, "external_id": external_id}).first()
        return None if row is None else Inquiry(**row._mapping)

    def get_inquiry(self, inquiry_id: int) -> Inquiry | None:
        """Return one inquiry with its corrections loaded."""
        with self._sessions() as s:
            return s.get(Inquiry, inquiry_id, options=[selectinload(Inquiry.corrections)])

    def queue(self, label: str | None = None, handled: bool | None = None, limit: int = 100,
              search: str | None = None, offset: int = 0) -> list[Inquiry]:
        """Return inquiries by effective route (the latest correction): escalations first, by reason
        severity then age (oldest waiting first), then 要確認, then newest first."""
        with self._sessions() as s:
            route = _route_column()
            q = select(Inquiry)
            if label:
                q = q.where(route == label)
            if handled is not None:
                q = q.where(Inquiry.handled == handled)
            if search:
                q = q.where(Inquiry.text.contains(search, autoescape=True))
            is_esc = route == "escalation"
            severity = case({r: i for i, r in enumerate(SEVERITY)}, value=Inquiry.reason, else_=len(SEVERITY))
            q = q.order_by(
                Inquiry.handled,
                case((is_esc, 0), else_=1),
                case((is_esc, severity), else_=0),
                # Within escalations the one waiting longest comes first; elsewhere the newest.
                case((is_esc, Inquiry.id), else_=0),
                Inquiry.needs_review.desc(),
                Inquiry.received_at.desc(),
                Inquiry.id.desc(),
            ).offset(offset).limit(limit)
            # One query for all rows' corrections, not one per row (the page polls every 3 s).
            return list(s.scalars(q.options(selectinload(Inquiry.corrections))))

    def route_counts(self, handled: bool | None = None, search: str | None = None) -> dict[str, int]:
        """Return the number of inquiries per effective route."""
        with self._sessions() as s:
            route = _route_column()
            q = select(route, func.count(Inquiry.id))
            if handled is not None:
                q = q.where(Inquiry.handled == handled)
            if search:
                q = q.where(Inquiry.text.contains(search, autoescape=True))
            return {str(r): int(n) for r, n in s.execute(q.group_by(route))}

    def assign(self, inquiry_id: int, agent: str | None) -> bool:
        """Assign an inquiry to an agent (None: release it); False if it does not exist."""
        with self.session() as s:
            row = s.get(Inquiry, inquiry_id)
            if row is None:
                return False
            row.assignee = agent
        return True

    def add_correction(self, inquiry_id: int, label: str, agent: str) -> Correction | None:
        """Store an agent's correction; None if the inquiry does not exist."""
        with self.session() as s:
            if s.get(Inquiry, inquiry_id) is None:
                return None
            c = Correction(inquiry_id=inquiry_id, label=label, agent=agent)
            s.add(c)
        return c

    def set_handled(self, inquiry_id: int, handled: bool, agent: str) -> bool:
        """Mark an inquiry handled (or not); False if it does not exist."""
        with self.session() as s:
            row = s.get(Inquiry, inquiry_id)
            if row is None:
                return False
            row.handled = handled
            row.handled_at = utcnow() if handled else None
            row.handled_by = agent if handled else None
        return True

    def review_correction(self, correction_id: int, decision: str, admin: str) -> Correction | None:
        """Accept or reject a correction for training (decision "accepted"/"rejected"); None if there is none."""
        if decision not in REVIEW_DECISIONS:
            raise ValueError(f"unknown review decision {decision!r}; use one of {', '.join(REVIEW_DECISIONS)}")
        with self.session() as s:
            c = s.get(Correction, correction_id)
            if c is None:
                return None
            c.review, c.reviewed_by, c.reviewed_at = decision, admin, utcnow()
        return c

    def corrections_for_review(self, limit: int = 200) -> list[Inquiry]:
        """Return corrected inquiries with all their corrections, those with a pending correction first."""
        with self._sessions() as s:
            pending = (select(Correction.inquiry_id).where(Correction.review.is_(None)))
            q = (select(Inquiry).where(Inquiry.id.in_(select(Correction.inquiry_id)))
                 .order_by(Inquiry.id.in_(pending).desc(), Inquiry.id.desc()).limit(limit)
                 .options(selectinload(Inquiry.corrections)))
            return list(s.scalars(q))

    def corrections(self, accepted_only: bool = False) -> list[tuple[Correction, Inquiry]]:
        """Return the latest correction of every corrected inquiry (of the accepted ones only), oldest first."""
        with self._sessions() as s:
            considered = select(func.max(Correction.id))
            if accepted_only:
                considered = considered.where(Correction.review == "accepted")
            latest = considered.group_by(Correction.inquiry_id)
            q = (
                select(Correction, Inquiry)
                .join(Inquiry, Correction.inquiry_id == Inquiry.id)
                .where(Correction.id.in_(latest))
                .order_by(Correction.id)
            )
            return [(c, i) for c, i in s.execute(q).all()]

    def compensation_inquiries(self, since: datetime | None = None) -> list[Inquiry]:
        """Return inquiries routed to the claims desk (or corrected to it), oldest first, from ``since`` on."""
        with self._sessions() as s:
            corrected = select(Correction.inquiry_id).where(Correction.label == "compensation")
            q = select(Inquiry).where((Inquiry.label == "compensation") | Inquiry.id.in_(corrected))
            if since is not None:
                q = q.where(Inquiry.received_at >= since)
            q = q.order_by(Inquiry.received_at, Inquiry.id).options(selectinload(Inquiry.corrections))
            # The latest correction decides: one corrected away from compensation is not the desk's.
            return [row for row in s.scalars(q) if (row.corrected_label or row.label) == "compensation"]

    def purge(self, older_than_days: int) -> tuple[int, int]:
        """Delete inquiries received before the cut-off with their corrections; return counts."""
        cutoff = utcnow() - timedelta(days=older_than_days)
        with self.session() as s:
            old = select(Inquiry.id).where(Inquiry.received_at < cutoff)
            n_corr = s.execute(delete(Correction).where(Correction.inquiry_id.in_(old))).rowcount
            n_inq = s.execute(delete(Inquiry).where(Inquiry.received_at < cutoff)).rowcount
        return n_inq or 0, n_corr or 0

    def count_inquiries(self) -> int:
        """Return the number of stored inquiries."""
        with self._sessions() as s:
            return int(s.scalar(select(func.count(Inquiry.id))) or 0)


_INQUIRIES = Inquiry.__table__
_INSERT_INQUIRY = _INQUIRIES.insert()
# INSERT ... ON CONFLICT (source, external_id) DO NOTHING RETURNING id, where the database has it (SQLite 3.35+,
# PostgreSQL); other databases take the plain INSERT and its IntegrityError.
_INSERT_ONCE = {
    name: dialect.insert(_INQUIRIES)
    .on_conflict_do_nothing(index_elements=[_INQUIRIES.c.source, _INQUIRIES.c.external_id])
    .returning(_INQUIRIES.c.id)
    for name, dialect in (("sqlite", sqlite_dialect), ("postgresql", postgresql_dialect))
    if name != "sqlite" or sqlite3.sqlite_version_info >= (3, 35)
}
_FIND_EXTERNAL = select(_INQUIRIES).where(_INQUIRIES.c.source == bindparam("source"),
                                          _INQUIRIES.c.external_id == bindparam("external_id"))

# Errors after which a pooled connection must not be used again, although the driver does not call them a
# disconnect: SQLite opens a file it cannot write read-only and stays so after the file is writable again;
# a PostgreSQL standby (after a fail-over) refuses writes on every connection opened to it.
_SQLITE_BROKEN = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_NOTADB", "SQLITE_CORRUPT")
_PG_BROKEN = {"25006"}  # read_only_sql_transaction


def _discard_broken_connections(context: Any) -> None:
    original = context.original_exception
    name = getattr(original, "sqlite_errorname", None) or ""
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if name.startswith(_SQLITE_BROKEN) or state in _PG_BROKEN:
        # Treated as a disconnect: this connection, and the pool's others of the same age, are replaced.
        context.is_disconnect = True
# Escalation reasons, most urgent first (issue 13: people at risk first); None and unknown come last.
SEVERITY = ("person_at_risk", "threat", "fraud_now", "legal", "press", "leadership", "records", "other")


def _route_column() -> Any:
    """The effective route in SQL: the latest correction's label, else the model's."""
    latest = (
        select(Correction.label)
        .where(Correction.inquiry_id == Inquiry.id)
        .order_by(Correction.id.desc())
        .limit(1)
        .correlate(Inquiry)
        .scalar_subquery()
    )
    return func.coalesce(latest, Inquiry.label)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the queue page read while webhooks write; NORMAL keeps commits
    # durable against a killed process (not against power loss mid-commit).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
