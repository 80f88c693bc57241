"""Energy and CO₂: what each generation and each training run used, measured by codecarbon.

codecarbon reads the processor's RAPL counters and the GPU's NVML counters where they exist; on a
machine without them (a VM, this project's 2-core CI) it estimates the processor's power from its
load and its thermal design power (TDP; 4 W a thread when the model is not in its table) and the
memory's from its size. Every figure says which method made it (``method``), since an estimate
is not a meter reading. CO₂-equivalent is energy times the grid's carbon intensity, a setting:

    PROMPTISM_GRID=world     codecarbon's world average (the default)
    PROMPTISM_GRID=FRA       a country's energy mix, by ISO 3166 alpha-3 code (codecarbon's table)
    PROMPTISM_GRID=52        a grid intensity in grams CO₂e per kWh

One codecarbon tracker serves the process; it measures one thing at a time. A measurement that
starts while another runs (a generation inside a measured one, or a second server job at once)
is not taken, and says so, rather than counting the same watts twice.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass

from ..errors import PromptismError

_LOCK = threading.Lock()
_TRACKER = None
_TRACKER_LOCK = threading.Lock()


def figures(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant figures (an estimate claims no more)."""
    return float(f"{x:.{digits}g}")


@dataclass
class Reading:
    """Energy a measured span used, and its CO₂-equivalent."""

    kwh: float | None = None
    co2_kg: float | None = None
    seconds: float = 0.0
    method: str = ""
    grid: str = ""
    note: str = ""  # why there is no figure, when there is none

    @property
    def measured(self) -> bool:
        return self.kwh is not None

    def add(self, other: Reading) -> Reading:
        """This span and the next one (a resumed training run's), as one."""
        if not other.measured:
            return self
        if not self.measured:
            return other
        return Reading(
            self.kwh + other.kwh, self.co2_kg + other.co2_kg, self.seconds + other.seconds, other.method, other.grid
        )

    def record(self, pictures: int = 1) -> dict:
        """The provenance of one of ``pictures`` pictures made in this span (its even share)."""
        if not self.measured:
            return {"measured": False, "note": self.note}
        return {
            "wh": figures(self.kwh * 1000 / pictures),
            "co2_g": figures(self.co2_kg * 1000 / pictures),
            "operation_wh": figures(self.kwh * 1000),
            "operation_seconds": round(self.seconds, 3),
            "pictures": pictures,
            "method": self.method,
            "grid": self.grid,
        }

    def to_json(self) -> dict:
        return {
            "kwh": self.kwh,
            "co2_kg": self.co2_kg,
            "seconds": round(self.seconds, 3),
            "method": self.method,
            "grid": self.grid,
        }

    @classmethod
    def from_json(cls, d: dict | None) -> Reading:
        if not d or d.get("kwh") is None:
            return cls(note="not measured")
        return cls(d["kwh"], d["co2_kg"], d.get("seconds", 0.0), d.get("method", ""), d.get("grid", ""))


_SESSION = Reading(note="nothing measured")  # everything this process measured, for the CLI's closing line


def grid_setting() -> tuple[dict, str]:
    """codecarbon's arguments for the configured grid, and how provenance names it."""
    value = os.environ.get("PROMPTISM_GRID", "world").strip()
    if value.lower() == "world":
        from codecarbon.input import DataSource

        g = DataSource().get_carbon_intensity_per_source_data()["world_average"]
        return {"force_carbon_intensity_g_co2e_kwh": float(g)}, f"world average, {g:g} g CO2e/kWh (codecarbon)"
    try:
        g = float(value)
    except ValueError:
        if len(value) != 3 or not value.isalpha():
            raise PromptismError(
                f"PROMPTISM_GRID is 'world', a country's 3-letter ISO code (e.g. FRA) or grams CO2e per kWh, not {value!r}"
            ) from None
        return {"country_iso_code": value.upper()}, f"{value.upper()} energy mix (codecarbon)"
    if not 0 <= g < 5000:
        raise PromptismError(f"PROMPTISM_GRID in g CO2e/kWh must be from 0 to 5000, got {value}")
    return {"force_carbon_intensity_g_co2e_kwh": g}, f"{g:g} g CO2e/kWh (set)"


def _tracker():
    """The process's codecarbon tracker (made once: its first measurement takes a second or two
    to learn the hardware), and its grid's name."""
    global _TRACKER
    with _TRACKER_LOCK:
        if _TRACKER is None:
            import logging

            from codecarbon import OfflineEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            grid_args, grid_name = grid_setting()
            tracker = OfflineEmissionsTracker(
                save_to_file=False,
                log_level="error",
                tracking_mode="process",
                measure_power_secs=3600,  # read at the start and end of each span, no timer between
                allow_multiple_runs=True,
                project_name="promptism",
                **grid_args,
            )
            _TRACKER = (tracker, grid_name)
        return _TRACKER


def _method(tracker) -> str:
    from codecarbon import __version__ as version

    hardware = ", ".join(str(h) for h in tracker._conf.get("hardware", [])) or "unknown hardware"
    cpu = next((h for h in getattr(tracker, "_hardware", []) if type(h).__name__ == "CPU"), None)
    tdp = getattr(cpu, "_tdp", None)
    if cpu is not None and getattr(cpu, "_mode", "") != "intel_rapl" and tdp:
        generic = " (generic: model not in codecarbon's table)" if getattr(cpu, "_is_generic_tdp", False) else ""
        hardware += f"; CPU estimated from load and a TDP of {tdp:g} W{generic}, no RAPL counters"
    return f"codecarbon {version}: {hardware}"


class Meter:
    """Measures one span of this process's work: ``start()``, then ``lap()`` (a training
    checkpoint) or ``stop()``. A span that cannot be measured reads ``measured == False``."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and os.environ.get("PROMPTISM_ENERGY", "on") != "off"
        self.owner = False
        self.t0 = time.time()

    def start(self) -> Meter:
        self.t0 = time.time()
        if self.enabled and _LOCK.acquire(blocking=False):
            self.owner = True
            try:
                tracker, _ = _tracker()
                tracker.start_task("promptism")  # the first one learns the hardware (a second or two)
            except Exception:
                self.owner = False
                _LOCK.release()
                raise
            self.t0 = time.time()  # the span's seconds are those codecarbon measured
        return self

    def _read(self) -> Reading:
        global _SESSION
        seconds = time.time() - self.t0
        if not self.enabled:
            return Reading(seconds=seconds, note="energy measurement off (PROMPTISM_ENERGY=off)")
        if not self.owner:
            return Reading(seconds=seconds, note="another measurement was running (counted there)")
        tracker, grid = _tracker()
        data = tracker.stop_task()
        reading = Reading(data.energy_consumed, data.emissions, seconds, _method(tracker), grid)
        _SESSION = _SESSION.add(reading)  # the owner of _LOCK alone gets here: one update at a time
        return reading

    def lap(self) -> Reading:
        """The span so far; the next lap starts now."""
        reading = self._read()
        if self.owner:
            _tracker()[0].start_task("promptism")
        self.t0 = time.time()
        return reading

    def stop(self) -> Reading:
        try:
            return self._read()
        finally:
            if self.owner:
                self.owner = False
                _LOCK.release()


def closing_line() -> str | None:
    """The CLI's last line: what the command's measured work used, and how that was measured."""
    total = _SESSION
    if not total.measured:
        return None
    return (
        f"energy: {figures(total.kwh * 1000)} Wh, {figures(total.co2_kg * 1000)} g CO2e over "
        f"{total.seconds:.1f} s measured ({total.method}; grid: {total.grid})"
    )


def stamp(result, reading: Reading) -> None:
    """Add the span's energy (each picture's share) and the prompt policy in force to a result's
    provenance (``result.metadata``: a dict, or one per picture; or a (pictures, metadata) pair)."""
    from .policy import active_policy

    meta = result[-1] if isinstance(result, tuple) else getattr(result, "metadata", None)
    records = [meta] if isinstance(meta, dict) else list(meta or [])
    policy = active_policy().describe()
    for record in records:
        record["energy"] = reading.record(len(records))
        record["policy"] = policy


def footprinted(fn):
    """A pipeline whose pictures' provenance carries the energy it used and the policy in force."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        meter = Meter().start()
        try:
            result = fn(*args, **kwargs)
        finally:
            reading = meter.stop()
        stamp(result, reading)
        return result

    return wrapper
