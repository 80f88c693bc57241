"""The job queue: bounded concurrency (one job at a time on a CPU by default), a bounded number of
waiting jobs (a new one beyond it is refused: 429), cancellation (the client went away) and a time
limit per job, both checked after every sampling step. Every job is a row in the history."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..pipelines.common import step_hook
from .history import History

log = logging.getLogger("promptism.server")


class QueueFull(Exception):
    pass


class JobCancelled(Exception):
    pass


class JobTimeout(Exception):
    pass


@dataclass
class Job:
    id: str
    kind: str
    work: Callable[[Job], tuple[list[int], list[str]]]  # -> (seeds, the picture files it wrote)
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: dict = field(default_factory=dict)
    future: asyncio.Future | None = None


class JobQueue:
    def __init__(self, history: History, concurrency: int = 1, max_queue: int = 8, timeout_s: float = 300.0):
        if concurrency < 1 or max_queue < 0 or timeout_s <= 0:
            raise ValueError("concurrency ≥ 1, max_queue ≥ 0 and timeout > 0, please")
        self.history, self.max_queue, self.timeout_s = history, max_queue, timeout_s
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="promptism-job")
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self.waiting = 0
        self.running = 0
        self.jobs: dict[str, Job] = {}  # jobs not yet finished, for live progress

    def submit(self, kind: str, params: dict, work, user: str | None = None) -> Job:
        """Queue a job (call from the event loop); QueueFull when max_queue jobs already wait."""
        with self._lock:
            if self.waiting >= self.max_queue and self.running >= self.concurrency:
                raise QueueFull(f"{self.waiting} jobs are waiting and {self.running} running; try again later")
            self.waiting += 1
        job = Job(self.history.add(kind, params, user), kind, work)
        self.jobs[job.id] = job
        job.future = asyncio.get_running_loop().run_in_executor(self.executor, self._run, job)
        return job

    def _run(self, job: Job):
        with self._lock:
            self.waiting -= 1
            self.running += 1
        try:
            if job.cancel.is_set():
                raise JobCancelled("cancelled before it started")
            self.history.start(job.id)
            deadline = time.monotonic() + self.timeout_s

            def hook(stage: str, done: int, total: int) -> None:
                job.progress = {"stage": stage, "done": done, "total": total}
                if job.cancel.is_set():
                    raise JobCancelled("the client went away")
                if time.monotonic() > deadline:
                    raise JobTimeout(f"the job ran past its time limit of {self.timeout_s:g} s")

            with step_hook(hook):
                seeds, files = job.work(job)
            self.history.finish(job.id, "done", seeds, files)
            return files
        except JobCancelled as e:
            self.history.finish(job.id, "cancelled", error=str(e))
            raise
        except Exception as e:
            log.warning("job %s failed: %s", job.id, e)
            self.history.finish(job.id, "failed", error=str(e) or type(e).__name__)
            raise
        finally:
            with self._lock:
                self.running -= 1
            self.jobs.pop(job.id, None)

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()
        self.executor.shutdown(wait=True, cancel_futures=False)
