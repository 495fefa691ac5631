"""URL converters: row ids in paths are ASCII digits in canonical form that the id columns can hold."""

from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError

# Integer columns are 32-bit on PostgreSQL (64 on SQLite): a larger id names no row on any database.
MAX_ID = 2**31 - 1


class IdConverter(BaseConverter):
    """``<id:name>``: 1 to 10 ASCII digits without leading zeros, at most MAX_ID; anything else is a 404.

    Werkzeug's ``int`` converter takes any Unicode digit (``٣`` and ``１`` alias
    3 and 1) and any size (an id beyond 64 bits crashes the SQLite driver).
    """

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        """Return the id, or refuse the match (404) when no column can hold it."""
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: object) -> str:
        """Render an id for url_for."""
        return str(int(value))  # type: ignore[call-overload]
