"""A fixed pool of answer workers, fed in order from one queue.

The server computes an answer (retrieval, the extractive text, its JSON) on one of a few worker
threads — two per core, `RAGQA_MAX_CONCURRENT_ANSWERS` — that take the requests in the order
they arrived. The event loop hands a request over once and is woken once with its result: no
thread per request waiting on a semaphore, no thread-pool round trips for the dependencies.
With more requests waiting than `RAGQA_MAX_QUEUED_ANSWERS`, a new one is refused at once
(`Overloaded`: 503 with Retry-After) instead of waiting behind a queue it cannot get through.

A failing job fails its own request only: the worker reports the exception to the waiting
request and takes the next job.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("ragqa.api")
_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class Overloaded(Exception):
    """More answers are waiting than the pool accepts."""


class AnswerPool:
    """`workers` threads computing jobs in the order `run` was called (first in, first out)."""

    def __init__(self, workers: int, max_queued: int = 0, name: str = "ragqa-answer") -> None:
        self.workers = max(1, workers)
        self.max_queued = max_queued  # 0: no limit
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queued)
        self._threads: list[threading.Thread] = []
        self._name = name
        self._lock = threading.Lock()
        self._closed = False

    @property
    def waiting(self) -> int:
        """Jobs queued and not yet taken by a worker."""
        return self._queue.qsize()

    async def run(self, work: Callable[[], T]) -> T:
        """`work()`'s result, computed on a worker after every job queued before it has been
        taken; its exception, raised here. `Overloaded` when the queue is full."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._start()
        try:
            self._queue.put_nowait((work, loop, future))
        except queue.Full:
            raise Overloaded(f"{self.max_queued} answers are waiting already") from None
        return await future

    def close(self) -> None:
        """Let the workers finish the jobs queued so far, then stop them (not waiting)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)

    def _start(self) -> None:
        """Start the workers on first use (an app that never answers runs none)."""
        if self._threads:
            return
        with self._lock:
            if self._threads or self._closed:
                return
            for number in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            work, loop, future = job
            if future.cancelled():  # its request is gone: nothing is waiting for the answer
                continue
            try:
                result = work()
            except StopIteration as error:  # a future cannot hold one
                _settle(loop, future, None, RuntimeError(f"StopIteration: {error}"))
            except Exception as error:  # every failure goes to its own request, the worker goes on
                _settle(loop, future, None, error)
            else:
                _settle(loop, future, result, None)


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any,
            error: BaseException | None) -> None:
    """Hand a job's outcome to its request on the event loop (which may have closed meanwhile)."""
    def resolve() -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(resolve)
    except RuntimeError:  # the loop is closed: the server is shutting down
        log.debug("an answer finished after its event loop closed")
