"""The services a process opens from its settings: the store, the model registry and the live items.

One factory for the service (``create_app``) and the command line, so that both find the same
database (SQLite in the instance folder unless TRIAGE_DATABASE_URL says otherwise) and the same registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI's quick commands import none of these
    from .live import LiveItem, ModelHolder, Watcher
    from .registry import Registry
    from .store import Store


def instance_path() -> Path:
    """Return the instance folder Flask gives the package (beside it, or under the prefix when installed)."""
    from flask.sansio.scaffold import find_package

    prefix, package_path = find_package("triage")
    if prefix is None:
        return Path(package_path) / "instance"
    return Path(prefix) / "var" / "triage-instance"


def database_url(settings: dict[str, Any], instance: str | Path | None = None) -> str:
    """Return TRIAGE_DATABASE_URL, or the SQLite file in the instance folder (created if missing)."""
    if settings.get("DATABASE_URL"):
        return settings["DATABASE_URL"]
    folder = Path(instance) if instance is not None else instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'triage.sqlite'}"


def open_store(settings: dict[str, Any], migrate: bool = True, instance: str | Path | None = None) -> Store:
    """Return the store of the settings' database, migrated to the newest revision unless ``migrate`` is off."""
    from .store import Store

    store = Store(database_url(settings, instance))
    if migrate:
        store.create_schema()
    return store


@dataclass
class Live:
    """What a worker serves and keeps current: the model, the FAQ version, the incident profile."""

    watcher: Watcher
    holder: ModelHolder
    faq: LiveItem[Any]
    profile: LiveItem[Any]


def open_live(settings: dict[str, Any], store: Store, registry: Registry) -> Live:
    """Return the live items of one worker, watched by one thread that stops with the store's engine."""
    from sqlalchemy import event

    from . import faq, incident
    from .live import ModelHolder, PointerItem, Watcher

    watcher = Watcher(settings["RELOAD_SECONDS"], read_pointers=store.pointers)
    event.listen(store.engine, "engine_disposed", watcher.stop_with)
    return Live(
        watcher=watcher,
        holder=watcher.add(ModelHolder(registry, interval=settings["RELOAD_SECONDS"])),
        faq=watcher.add(PointerItem(faq.POINTER, lambda value: faq.load_kb(store, int(value)))),
        profile=watcher.add(PointerItem(incident.POINTER, lambda value: incident.load(store, int(value)))),
    )
