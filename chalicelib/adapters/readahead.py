"""Read ahead: the next chunks of a stream are fetched by a thread while the consumer uses this one.

The scan reads an object from storage and sends it to clamd; done in turn, each waits for the
other. With a bounded read-ahead the two overlap (memory: at most `depth` chunks in flight).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator


class _Done:
    """The source ended (`error` None) or failed (`error` is what it raised)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Worker(threading.Thread):
    """Pulls the source into a bounded queue until it ends, fails, or the consumer stops."""

    def __init__(self, produce: Callable[[], Iterator[object]], depth: int) -> None:
        super().__init__(name="read-ahead", daemon=True)
        self.slots: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self._produce = produce

    def _offer(self, item: object) -> bool:
        while not self.stopped.is_set():
            try:
                self.slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        source = self._produce()
        try:
            for item in source:
                if not self._offer(item):
                    return
            self._offer(_Done())
        except BaseException as error:  # handed to the consumer, who re-raises it
            self._offer(_Done(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()


def read_ahead[T](produce: Callable[[], Iterator[T]], depth: int = 2) -> Iterator[T]:
    """The items of `produce()`, fetched up to `depth` ahead by a worker thread; its errors are
    re-raised here, in order. Closing the iterator early stops the worker and closes its source."""
    worker = _Worker(produce, depth)
    worker.start()
    try:
        while True:
            item = worker.slots.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item  # type: ignore[misc]
    finally:
        worker.stopped.set()
        worker.join(timeout=5)
