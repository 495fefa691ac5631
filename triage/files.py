"""Writing files so that a reader sees the old content or the new one, never half of either."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    A failure (a full disk, a crash) leaves the old file and no temporary one; OSError reaches the caller.
    """
    path = Path(path)
    # Beside the target (os.replace is atomic only within one file system), with a name no other writer
    # picks, and the usual permissions (the umask applies, as to any file the user writes).
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
