"""Dynamic batching of concurrent Predict calls to one signature, like TF Serving's batching.

Requests whose inputs share dim 0 (the image count) are queued; a worker takes the first request, waits up
to `batch_timeout_micros` for more until `max_batch_size` images are gathered, concatenates every input along
dim 0, runs the signature once and splits the outputs back. If a merged batch fails with an input error, each
request is rerun alone so one bad request cannot fail its batch-mates.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable, Mapping

import numpy as np

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int = 32
    batch_timeout_micros: int = 2000
    max_enqueued_batches: int = 100
    num_batch_threads: int = 1


def load_batching_config(path: str) -> BatchingConfig:
    """Read TF Serving's `--batching_parameters_file` text format (`max_batch_size { value: 32 }` ...)."""
    import re

    with open(path) as f:
        text = f.read()
    values = {}
    for field in ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads"):
        m = re.search(field + r"\s*\{\s*value\s*:\s*(\d+)\s*\}", text)
        if m:
            values[field] = int(m.group(1))
    return BatchingConfig(**values)


class QueueFull(Exception):
    pass


class BatcherClosed(Exception):
    """The batcher was closed (its version unloaded or the server stopping); run the request directly."""


@dataclasses.dataclass
class _Task:
    inputs: Mapping[str, np.ndarray]
    size: int
    future: Future


RunFn = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]


class Batcher:
    def __init__(self, run: RunFn, config: BatchingConfig, name: str = "batcher",
                 is_input_error: Callable[[BaseException], bool] = lambda e: False):
        self._run = run
        self.config = config
        self._is_input_error = is_input_error
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        self._pending = 0
        self._closed = False
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, config.num_batch_threads))]
        for t in self._threads:
            t.start()

    def submit(self, inputs: Mapping[str, np.ndarray], size: int) -> Future:
        limit = self.config.max_enqueued_batches * self.config.max_batch_size
        with self._lock:
            if self._closed:
                raise BatcherClosed()
            if self._pending + size > limit:
                raise QueueFull(f"batching queue is full ({self._pending} images pending, limit {limit}); "
                                "retry later")
            self._pending += size
        task = _Task(inputs, size, Future())
        self._queue.put(task)
        return task.future

    def close(self) -> None:
        """Stop accepting work; requests already queued still run."""
        with self._lock:
            self._closed = True
        for _ in self._threads:
            self._queue.put(None)

    def _loop(self) -> None:
        carry: _Task | None = None
        while True:
            first = carry or self._queue.get()
            carry = None
            if first is None:
                return
            batch = [first]
            total = first.size
            deadline = time.monotonic() + self.config.batch_timeout_micros / 1e6
            while total < self.config.max_batch_size:
                remaining = deadline - time.monotonic()
                try:
                    task = self._queue.get(timeout=max(remaining, 0)) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if task is None:
                    self._queue.put(None)
                    break
                if total + task.size > self.config.max_batch_size:
                    carry = task
                    break
                batch.append(task)
                total += task.size
            self._execute([t for t in batch if t.future.set_running_or_notify_cancel()])
            with self._lock:
                self._pending -= sum(t.size for t in batch)

    def _execute(self, batch: list[_Task]) -> None:
        if not batch:
            return
        if len(batch) == 1:
            self._run_one(batch[0])
            return
        names = list(batch[0].inputs)
        log.debug("running a batch of %d requests (%d items)", len(batch), sum(t.size for t in batch))
        try:
            merged = {n: np.concatenate([t.inputs[n] for t in batch], axis=0) for n in names}
            outputs = self._run(merged)
        except BaseException as e:  # noqa: BLE001 - rerun alone to find the request at fault
            if not self._is_input_error(e):
                log.warning("batched run of %d requests failed (%s); rerunning each alone", len(batch), e)
            for t in batch:
                self._run_one(t)
            return
        start = 0
        for t in batch:
            t.future.set_result({k: v[start:start + t.size] for k, v in outputs.items()})
            start += t.size

    def _run_one(self, task: _Task) -> None:
        try:
            task.future.set_result(self._run(task.inputs))
        except BaseException as e:  # noqa: BLE001 - delivered to the waiting RPC
            task.future.set_exception(e)
