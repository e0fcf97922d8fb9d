"""File locks and atomic writes shared by the demo world's simulators and the demo DAG.

The agency robot and the demo bank run both as long-running services and as steps of the demo
DAG ``inkasso_demo_day``: an exclusive ``flock`` on a lock file beside their state makes the
two take turns (processes on one machine, or containers sharing a volume on one host).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path


def local_path(location) -> Path | None:
    """The local folder behind ``location`` (a ``Path`` or a ``file://`` ObjectStoragePath), or
    None when it is remote (no lock there: the demo keeps its files on a local folder)."""
    if isinstance(location, Path):
        return location
    if getattr(location, "protocol", None) in ("file", "local"):
        return Path(location.path)
    return None


@contextmanager
def file_lock(path: Path | None) -> Generator[None, None, None]:
    """Hold an exclusive lock on ``path`` (created when missing) for the ``with`` block.

    ``None`` locks nothing (a remote location). Blocks until the other holder is done.
    """
    if path is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file and a rename: readers see the
    whole file or none (``path`` may be a ``Path`` or an ObjectStoragePath)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.parent / f".{path.name}.{os.getpid()}.part"
    part.write_bytes(data)
    part.rename(path)
