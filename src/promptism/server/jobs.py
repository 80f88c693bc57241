"""The job queue: bounded concurrency (one job at a time on a CPU by default), a bounded number of
waiting jobs (a new one beyond it is refused: 429), cancellation (the client went away) and a time
limit per job, both checked after every sampling step. Every job is a row in the history."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field

from ..pipelines.common import step_hook
from .history import History

log = logging.getLogger("promptism.server")


# step previews: the stages whose estimate is a picture, and about how many previews a stage shows
PREVIEW_STAGES = ("decoder", "inpaint", "guide", "mini", "dream")
PREVIEWS = 8


def preview_png(x0) -> str:
    """The first picture of a stage's current estimate (B, 3, H, W in [-1, 1]) as a PNG data URL."""
    import base64
    import io

    from ..pipelines.common import to_images

    buf = io.BytesIO()
    to_images(x0[:1].detach().float())[0].save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class QueueFull(Exception):
    pass


class JobCancelled(Exception):
    pass


class JobTimeout(Exception):
    pass


class StorageError(Exception):
    """The history or a job's pictures could not be written (a full or read-only disk)."""


@dataclass
class Job:
    id: str
    kind: str
    work: Callable[[Job], tuple[list[int], list[str]]]  # -> (seeds, the picture files it wrote)
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = "the client went away"
    progress: dict = field(default_factory=dict)
    future: asyncio.Future | None = None
    started: bool = False


class JobQueue:
    def __init__(
        self, history: History, concurrency: int = 1, max_queue: int = 8, timeout_s: float = 300.0, around=nullcontext
    ):
        """``around()``: a context every job's work runs in (the server's prompt policy)."""
        if concurrency < 1 or max_queue < 0 or timeout_s <= 0:
            raise ValueError("concurrency ≥ 1, max_queue ≥ 0 and timeout > 0, please")
        self.history, self.max_queue, self.timeout_s, self.around = history, max_queue, timeout_s, around
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="promptism-job")
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self.waiting = 0
        self.running = 0
        self.jobs: dict[str, Job] = {}  # jobs not yet finished, for live progress
        self.storage_error: str | None = None  # the last failure to write, until a job is written whole

    def submit(self, kind: str, params: dict, work, user: str | None = None, owner: str | None = None) -> Job:
        """Queue a job (call from the event loop); QueueFull when max_queue jobs already wait."""
        with self._lock:
            if self.waiting >= self.max_queue and self.running >= self.concurrency:
                raise QueueFull(f"{self.waiting} jobs are waiting and {self.running} running; try again later")
            self.waiting += 1
        try:  # the slot is given back whatever stops the job from being queued
            job = Job(self._write(self.history.add, kind, params, user, "queued", None, owner), kind, work)
            self.jobs[job.id] = job
            job.future = asyncio.get_running_loop().run_in_executor(self.executor, self._run, job)
        except BaseException:
            with self._lock:
                self.waiting -= 1
            raise
        return job

    def _write(self, fn, *args):
        """A history write; a failure of the disk or the database becomes a StorageError, noted
        for /healthz until a job writes its pictures and its record again."""
        try:
            return fn(*args)
        except (OSError, sqlite3.Error) as e:
            self.storage_error = f"{type(e).__name__}: {e}"
            raise StorageError(f"the server could not write its history: {e}") from e

    def _run(self, job: Job):
        with self._lock:
            self.waiting -= 1
            self.running += 1
            job.started = True
        try:
            if job.cancel.is_set():
                raise JobCancelled(f"{job.cancel_reason}, before it started")
            self._write(self.history.start, job.id)
            deadline = time.monotonic() + self.timeout_s

            def hook(stage: str, done: int, total: int, x0=None) -> None:
                progress = {"stage": stage, "done": done, "total": total}
                if "preview" in job.progress and job.progress.get("stage") == stage:
                    progress["preview"] = job.progress["preview"]
                if (
                    stage in PREVIEW_STAGES
                    and x0 is not None
                    and (done % max(1, total // PREVIEWS) == 0 or done == total)
                ):
                    progress["preview"] = preview_png(x0)
                job.progress = progress
                if job.cancel.is_set():
                    raise JobCancelled(job.cancel_reason)
                if time.monotonic() > deadline:
                    raise JobTimeout(f"the job ran past its time limit of {self.timeout_s:g} s")

            with step_hook(hook), self.around():
                seeds, files = job.work(job)
            self._write(self.history.finish, job.id, "done", seeds, files)
            self.storage_error = None  # pictures and record written: the disk takes writes again
            return files
        except JobCancelled as e:
            self._discard(job)
            self._end(job, "cancelled", str(e))
            raise
        except Exception as e:
            log.warning("job %s failed: %s", job.id, e)
            self._discard(job)  # first: on a full disk, that makes room to record the failure
            if isinstance(e, StorageError):
                self.storage_error = str(e)
            self._end(job, "failed", str(e) or type(e).__name__)
            raise
        finally:
            with self._lock:
                self.running -= 1
            self.jobs.pop(job.id, None)

    def position(self, job_id: str) -> int | None:
        """A waiting job's place in the queue (1: it runs next); None for a job not waiting."""
        waiting = [j.id for j in list(self.jobs.values()) if not j.started]  # list(): one step under the GIL
        return waiting.index(job_id) + 1 if job_id in waiting else None

    def cancel(self, job_id: str, reason: str = "cancelled on request") -> bool:
        """Stop a queued or running job at its next step; False when it is not queued or running."""
        job = self.jobs.get(job_id)
        if job is None:
            return False
        job.cancel_reason = reason
        job.cancel.set()
        return True

    def _discard(self, job: Job) -> None:
        """An ended job that did not finish keeps none of its pictures (some may have been written
        before the disk filled, or before its record could be written)."""
        try:
            self.history.discard_pictures(job.id)
        except OSError as e:
            log.error("job %s: its pictures could not be deleted: %s", job.id, e)

    def _end(self, job: Job, status: str, reason: str) -> None:
        """Mark a job ended; where even that cannot be written, the next start's recovery marks it
        failed (History.recover)."""
        try:
            self._write(self.history.finish, job.id, status, None, None, reason)
        except StorageError:
            log.error("job %s ended (%s: %s) but the history could not record it", job.id, status, reason)

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()
        self.executor.shutdown(wait=True, cancel_futures=False)
