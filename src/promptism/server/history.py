"""The server's durable history: one SQLite row per job (parameters, seeds, status, files), the
pictures in an images folder beside it.

A job's pictures are written first, each atomically, and the row says "done" with their names
only after the last one is in place. A server killed mid-job leaves a "queued" or "running"
row: ``recover()`` at the next start marks it failed, says why, and deletes any picture it had
begun, so the history never shows a half-written job.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptismError

STATUSES = ("queued", "running", "done", "failed", "cancelled", "refused")
FINAL = ("done", "failed", "cancelled", "refused")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    seeds TEXT NOT NULL DEFAULT '[]',
    files TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    started REAL,
    finished REAL,
    user TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
"""


@dataclass
class JobRecord:
    id: str
    created: float
    kind: str
    status: str
    params: dict
    seeds: list
    files: list
    error: str | None
    started: float | None
    finished: float | None
    user: str | None
    owner: str | None = None  # the API key's user that asked for the job (None: no keys)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class History:
    def __init__(self, data_dir: str | Path):
        self.dir = Path(data_dir)
        self.images = self.dir / "images"
        self.uploads = self.dir / "uploads"
        for d in (self.dir, self.images, self.uploads):
            d.mkdir(parents=True, exist_ok=True)
        # one server per data folder: a second one would mark the first one's running jobs failed
        self._owner = open(self.dir / "server.lock", "w")
        try:
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._owner.close()
            raise PromptismError(
                f"another promptism server is using {self.dir}: stop it, or give --data-dir another folder"
            ) from None
        self.path = self.dir / "history.sqlite3"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "owner" not in columns:  # a history from before users were kept apart
            self._db.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._owner.close()  # and with it the lock

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def add(
        self,
        kind: str,
        params: dict,
        user: str | None = None,
        status: str = "queued",
        error: str | None = None,
        owner: str | None = None,
    ) -> str:
        job_id = uuid.uuid4().hex[:16]
        now = time.time()
        self._exec(
            "INSERT INTO jobs (id, created, kind, status, params, error, user, finished, owner) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (job_id, now, kind, status, json.dumps(params), error, user, now if status in FINAL else None, owner),
        )
        return job_id

    def start(self, job_id: str) -> None:
        self._exec("UPDATE jobs SET status='running', started=? WHERE id=?", (time.time(), job_id))

    def finish(
        self, job_id: str, status: str, seeds: list | None = None, files: list | None = None, error: str | None = None
    ) -> None:
        if status not in FINAL:
            raise ValueError(f"a job ends as one of {FINAL}, not {status!r}")
        self._exec(
            "UPDATE jobs SET status=?, seeds=?, files=?, error=?, finished=? WHERE id=?",
            (status, json.dumps(seeds or []), json.dumps(files or []), error, time.time(), job_id),
        )

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._exec(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,))
        return _record(rows[0]) if rows else None

    def list(
        self, limit: int = 50, before: float | None = None, owner: str | None = None, text: str | None = None
    ) -> list[JobRecord]:
        """The newest jobs first (created before ``before``, for paging); only ``owner``'s when one
        is named; only those whose prompt, or whose source's prompt, holds ``text`` (ignoring ASCII case)."""
        where, args = [], []
        if text:
            where.append(
                "instr(lower(coalesce(json_extract(params, '$.prompt'), '') || ' ' || "
                "coalesce(json_extract(params, '$.source_prompt'), '')), lower(?)) > 0"
            )
            args.append(text)
        if before is not None:
            where.append("created < ?")
            args.append(before)
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._exec(f"SELECT {_COLUMNS} FROM jobs {clause}ORDER BY created DESC LIMIT ?", (*args, limit))
        return [_record(r) for r in rows]

    def remove_picture(self, job_id: str, name: str) -> None:
        """Delete one picture of a finished job, and take it (and its seed) off the job's record."""
        with self._lock:
            row = self._db.execute("SELECT seeds, files FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                return
            seeds, files = json.loads(row[0] or "[]"), json.loads(row[1] or "[]")
            if name in files:
                i = files.index(name)
                del files[i]
                if i < len(seeds):
                    del seeds[i]
                self._db.execute(
                    "UPDATE jobs SET seeds=?, files=? WHERE id=?", (json.dumps(seeds), json.dumps(files), job_id)
                )
        for path in (self.images / name, (self.images / name).with_suffix(".json")):
            path.unlink(missing_ok=True)

    def discard_pictures(self, job_id: str) -> None:
        """Delete a job's pictures and their sidecars (a job that failed or was cancelled keeps none)."""
        for f in self.images.glob(f"{job_id}-*"):
            f.unlink(missing_ok=True)

    def recover(self) -> list[str]:
        """Mark the jobs a previous server left unfinished as failed and delete their pictures."""
        rows = self._exec("SELECT id FROM jobs WHERE status IN ('queued', 'running')")
        ids = [r[0] for r in rows]
        for job_id in ids:
            self.discard_pictures(job_id)
            self.finish(job_id, "failed", error="the server stopped before this job finished")
        for tmp in self.images.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        return ids


_COLUMNS = "id, created, kind, status, params, seeds, files, error, started, finished, user, owner"


def _record(row: tuple) -> JobRecord:
    (id_, created, kind, status, params, seeds, files, error, started, finished, user, owner) = row
    return JobRecord(
        id_,
        created,
        kind,
        status,
        json.loads(params),
        json.loads(seeds),
        json.loads(files),
        error,
        started,
        finished,
        user,
        owner,
    )
