"""Where a benchmark writes its report: ``benchmarks/reports/STEM.*`` for the shipped models, or
``experiments/reports/STEM_TAG.*`` for a model being tried (a recipe's run, named by ``--tag``)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
TRIED = HERE.parent / "experiments" / "reports"


def report_place(stem: str, tried: bool, tag: str | None, option: str) -> tuple[Path, str]:
    """(folder, file stem) of a report; a model being tried (``tried``: ``option`` names a folder)
    needs a tag, and a tag needs a model being tried."""
    if tried != bool(tag):
        raise SystemExit(f"a model being tried needs both {option} FOLDER and --tag NAME")
    return (TRIED, f"{stem}_{tag}") if tag else (REPORTS, stem)
