"""How many threads to give numerical libraries when nobody said: the cores idle right now.

OpenMP's threads spin while they wait for each other, so a thread on a core that another process
keeps busy stalls the rest, several times over (benchmarks/reports/shared_cores.md). Counting the cores that were idle over a
tenth of a second at start costs that tenth and avoids the stall. Linux only (/proc/stat);
elsewhere the libraries keep their own default.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

STAT = Path("/proc/stat")
IDLE_SHARE = 0.5  # a core counts as free when it was idle at least this share of the interval


def cpu_times(text: str) -> dict[int, tuple[int, int]]:
    """{cpu: (idle jiffies, all jiffies)} from the text of /proc/stat (idle includes iowait)."""
    out = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or not name[3:].isdigit():
            continue
        ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
        out[int(name[3:])] = (ticks[3] + ticks[4], sum(ticks))
    return out


def free_cores(before: str, after: str, cpus: set[int] | None = None) -> int:
    """How many of ``cpus`` (all when None) were idle at least IDLE_SHARE of the time between two
    readings of /proc/stat. A core with no ticks between them counts as free."""
    a, b = cpu_times(before), cpu_times(after)
    free = 0
    for cpu in b.keys() & a.keys():
        if cpus is not None and cpu not in cpus:
            continue
        idle, total = b[cpu][0] - a[cpu][0], b[cpu][1] - a[cpu][1]
        free += total <= 0 or idle / total >= IDLE_SHARE
    return free


def auto_threads(interval: float = 0.1) -> int | None:
    """The number of this process's cores that were idle over ``interval`` seconds (at least 1)
    when some of them were busy; None when all were idle (the libraries' own default, which
    knows physical cores from hyperthreads, stands) or where /proc/stat can't be read."""
    try:
        before = STAT.read_text()
        time.sleep(interval)
        after = STAT.read_text()
    except OSError:
        return None
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(cpu_times(after))
    free = free_cores(before, after, cpus)
    return None if free >= len(cpus) else max(1, free)
