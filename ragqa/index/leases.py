"""Ingest leases kept in the vector store, so that processes with separate storage dirs sharing
one Chroma server never ingest the same project at once (a local file lock cannot see them).

A lease is a record (owner, expiry) in the `ragqa-leases` collection. Taking one: read it; if
another owner holds it and it has not expired, the project is busy; else write ours, wait
`SETTLE_S` and read again — Chroma has no compare-and-set, so of two processes writing at once
only the one whose write landed last still finds itself the owner, and the other steps back.
The holder renews the lease every third of its time to live from a background thread; a lease
whose holder was killed expires and is taken over (at once when the holder was a process of
this machine that is gone).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from ragqa.errors import BusyError
from ragqa.index.documents import DocumentCollection

LEASES_COLLECTION = "ragqa-leases"
SETTLE_S = 0.3


class Lease(BaseModel):
    owner: str
    expires_at: float  # seconds since the epoch


class Leases:
    """Per-project ingest leases (see the module docstring)."""

    def __init__(self, client: Any, ttl_s: float = 60.0) -> None:
        self._leases = DocumentCollection(client, LEASES_COLLECTION, Lease)
        self.ttl_s = ttl_s

    @contextlib.contextmanager
    def hold(self, project: str) -> Iterator[None]:
        """Hold `project`'s lease while the block runs (`BusyError` if another process does)."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._take(project, owner)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(project, owner, stop), daemon=True,
                                   name="ragqa-lease")
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)
            with contextlib.suppress(Exception):  # an unreachable store: the lease expires by itself
                current = self._leases.get(project)
                if current is not None and current.owner == owner:
                    self._leases.delete(project)

    def _take(self, project: str, owner: str) -> None:
        self._refuse_if_held(project, owner)
        self._write(project, owner)
        time.sleep(SETTLE_S)
        self._refuse_if_held(project, owner)

    def _refuse_if_held(self, project: str, owner: str) -> None:
        current = self._leases.get(project)
        if current is not None and current.owner != owner and current.expires_at > time.time() \
                and not _dead_here(current.owner):
            until = datetime.fromtimestamp(current.expires_at, UTC).strftime("%H:%M:%S UTC")
            raise BusyError(f"another ingest of {project!r} is running ({current.owner.rsplit(':', 1)[0]}, "
                            f"its lease renewed until {until})")

    def _write(self, project: str, owner: str) -> None:
        self._leases.put(project, Lease(owner=owner, expires_at=time.time() + self.ttl_s), {"owner": owner})

    def _renew(self, project: str, owner: str, stop: threading.Event) -> None:
        while not stop.wait(self.ttl_s / 3):
            with contextlib.suppress(Exception):  # a store blip: the next renewal tries again
                current = self._leases.get(project)
                if current is None or current.owner == owner:
                    self._write(project, owner)


def _dead_here(owner: str) -> bool:
    """Whether the lease's holder was a process of this machine that no longer runs (killed):
    its lease is taken over at once instead of waiting for it to expire."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
