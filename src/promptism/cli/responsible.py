"""`promptism verify`: what a picture says of where it came from (provenance chunks, its C2PA
manifest, Promptism's watermark)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def verify_picture(path: str | Path) -> dict:
    """The provenance chunks, the C2PA manifest and the watermark of one picture."""
    from PIL import Image

    from ..errors import PromptismError
    from ..pipelines.provenance import read_provenance
    from ..responsible import credentials, watermark

    path = Path(path)
    if not path.is_file():
        raise PromptismError(f"{str(path)!r} is not a file")
    try:
        with Image.open(path) as im:
            im.load()
            picture = im.convert("RGB")
    except OSError as e:
        raise PromptismError(f"{path.name} is not a picture this can read: {e}") from None
    provenance = read_provenance(path) if path.suffix.lower() == ".png" else {}
    manifest = credentials.read_manifest(path)
    return {
        "file": str(path),
        "provenance": provenance or None,
        "c2pa": manifest,
        "watermark": watermark.detect(picture).to_json(),
    }


def _summary(report: dict) -> list[str]:
    lines = [report["file"]]
    prov = report["provenance"]
    if prov:
        what = ", ".join(f"{k} {prov[k]!r}" for k in ("generator", "operation", "prompt", "seed") if k in prov)
        lines.append(f"  provenance chunks: yes ({what})")
        energy = prov.get("energy") or {}
        if energy.get("wh") is not None:
            lines.append(f"  energy: {energy['wh']:.4g} Wh, {energy['co2_g']:.4g} g CO2e ({energy['method']})")
    else:
        lines.append("  provenance chunks: none")
    c2pa = report["c2pa"]
    if c2pa is None:
        lines.append("  C2PA manifest: none")
    else:
        trust = "trusted" if c2pa["trusted"] else "signer not trusted"
        problems = f"; {', '.join(c2pa['problems'])}" if c2pa.get("problems") else ""
        lines.append(
            f"  C2PA manifest: {c2pa['state']} ({trust}; signed by {c2pa.get('signer')!r}, "
            f"issued by {c2pa.get('issuer')!r}{problems})"
        )
    wm = report["watermark"]
    lines.append(
        f"  watermark: {'found' if wm['found'] else 'not found'} (aligned {wm['aligned_score']}, threshold "
        f"{wm['aligned_threshold']}; at any shift {wm['score']}, threshold {wm['threshold']})"
    )
    return lines


def cmd_verify(args: argparse.Namespace) -> int:
    reports = [verify_picture(p) for p in args.pictures]
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=1, default=str))
    else:
        for r in reports:
            print("\n".join(_summary(r)))
    return 0


def add_commands(sub) -> None:
    v = sub.add_parser(
        "verify",
        help="what a picture says of where it came from: provenance, C2PA manifest, watermark",
        description="Report a picture's Promptism provenance chunks, its C2PA manifest (valid? signed by "
        "whom? trusted? the local test root is trusted) and whether Promptism's invisible watermark is in "
        "its pixels (found after JPEG, resizing and cropping; see docs/responsible.md for what each proves).",
    )
    v.add_argument("pictures", nargs="+", metavar="PICTURE", help="PNG, JPEG or WebP files")
    v.add_argument("--json", action="store_true", help="print the full reports as JSON")
    v.set_defaults(func=cmd_verify)


# published figures to set ours beside (each with its source)
PUBLISHED = [
    (
        "image generation, mean of the models measured (per picture)",
        "2.9 Wh",
        "Luccioni, Jernite & Strubell 2024, Power Hungry Processing (FAccT; arXiv 2311.16863): 2.907 kWh per 1,000 images on A100s",
    ),
    (
        "Stable Diffusion v1, training",
        "150,000 A100 hours, 11,250 kg CO2e",
        "the CompVis/stable-diffusion-v1-4 model card (Hardware, Hours used, Carbon emitted)",
    ),
    (
        "BLOOM 176B, training",
        "433 MWh, 24.7 t CO2e (dynamic power only)",
        "Luccioni, Viguier & Ligozat 2023, Estimating the Carbon Footprint of BLOOM (JMLR 24(253))",
    ),
    (
        "GPT-3 175B, training",
        "1,287 MWh, 552 t CO2e",
        "Patterson et al. 2021, Carbon Emissions and Large Neural Network Training (arXiv 2104.10350)",
    ),
]


def _history_energy(folders: list[Path]) -> dict:
    """The energy recorded in the provenance sidecars (*.json) under the folders."""
    from ..responsible.energy import figures

    pictures, wh, co2, by = 0, 0.0, 0.0, {}
    methods = set()
    for folder in folders:
        for side in folder.rglob("*.json"):
            try:
                meta = json.loads(side.read_text())
            except (OSError, ValueError):
                continue
            e = meta.get("energy") if isinstance(meta, dict) else None
            if not isinstance(e, dict) or e.get("wh") is None or meta.get("layout") == "grid":
                continue
            pictures += 1
            wh += e["wh"]
            co2 += e["co2_g"]
            methods.add(e.get("method", ""))
            key = f"{meta.get('generator', '?')} {meta.get('operation', '')}".strip()
            k = by.setdefault(key, [0, 0.0])
            k[0] += 1
            k[1] += e["wh"]
    return {
        "pictures": pictures,
        "wh": figures(wh, 6),
        "co2_g": figures(co2, 6),
        "wh_per_picture": figures(wh / pictures, 6) if pictures else None,
        "by_generator": {k: {"pictures": n, "wh": figures(w, 6)} for k, (n, w) in sorted(by.items())},
        "methods": sorted(m for m in methods if m),
    }


def _power_under_load(threads: int, seconds: float = 3.0) -> tuple[float, str]:
    """The power codecarbon measures on this machine while ``threads`` threads multiply matrices."""
    import time

    import torch

    from ..responsible.energy import Meter

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a = torch.randn(512, 512)
    try:
        meter = Meter().start()
        t0 = time.time()
        while time.time() - t0 < seconds:
            a = torch.tanh(a @ a)
        reading = meter.stop()
    finally:
        torch.set_num_threads(before)
    if not reading.measured:
        return 0.0, reading.note
    return reading.kwh * 3.6e6 / reading.seconds, reading.method


UNMEASURED_SLACK_S = 60.0  # recorded stepping seconds beyond the measured span that count as unmeasured


def _phase_energy(rec: dict, estimate: bool, g, power) -> tuple[float | None, float | None, list[tuple[str, str]]]:
    """(kWh, kg CO₂e, parts) of one training phase's record (a config.json, or one of its
    ``init_phases``): what the loop measured, plus, for stepping seconds it did not measure (a run
    begun before energy was measured and resumed after), an estimate from the recorded seconds at
    the power ``power(threads)`` returns. Each part is (measured | estimated | not known, how); kWh
    and CO₂e are None when a part is not known."""
    seconds = float(rec.get("train_seconds") or 0.0)
    measured = rec.get("training_energy") or {}
    kwh = co2 = 0.0
    parts: list[tuple[str, str]] = []
    if measured.get("kwh") is not None:
        kwh, co2 = float(measured["kwh"]), float(measured.get("co2_kg") or 0.0)
        covered = float(measured.get("seconds") or 0.0)
        parts.append(("measured", f"{covered:.0f} s by {measured.get('method')}"))
        seconds -= covered
        if seconds <= UNMEASURED_SLACK_S:
            return kwh, co2, parts
    if seconds <= 0:
        return None, None, [*parts, ("not known", "no recorded training time")]
    if not estimate or rec.get("device") != "cpu":
        why = f"trained on {rec.get('device')}" if estimate else "not estimated"
        return None, None, [*parts, ("not known", f"{seconds:.0f} s trained before energy was measured ({why})")]
    threads = int(rec.get("threads") or 1)
    watts, method = power(threads)
    extra = watts * seconds / 3.6e6
    source = f"; training time: {rec['training_time_source']}" if rec.get("training_time_source") else ""
    parts.append(
        (
            "estimated",
            f"{seconds:.0f} s of recorded training × {watts:.1f} W measured now under load on {threads} "
            f"thread(s) ({method}){source}",
        )
    )
    return kwh + extra, (co2 + extra * g / 1000) if g is not None else None, parts


def _models_energy(estimate: bool) -> list[dict]:
    """Each shipped model's training energy over every phase that made it (a fine-tune's
    ``init_phases``, then its own run): measured where the training loop measured it, else
    estimated from the recorded training seconds on a CPU at the power this machine draws under the
    same load, else not known. ``how`` starts with the weakest of these its parts rest on."""
    from ..checkpoint import MODELS_DIR
    from ..responsible.energy import grid_setting

    g = grid_setting()[0].get("force_carbon_intensity_g_co2e_kwh")  # None for a country's mix
    powers: dict[int, tuple[float, str]] = {}

    def power(threads: int) -> tuple[float, str]:
        if threads not in powers:
            powers[threads] = _power_under_load(threads)
        return powers[threads]

    rows = []
    for folder in sorted(p for p in Path(MODELS_DIR).iterdir() if (p / "config.json").is_file()):
        cfg = json.loads((folder / "config.json").read_text())
        phases = [*cfg.get("init_phases", []), cfg]
        total_s = sum(float(r.get("train_seconds") or 0.0) for r in phases)
        kwh, co2, each = 0.0, 0.0, []
        for rec in phases:
            k, c, parts = _phase_energy(rec, estimate, g, power)
            kwh = None if k is None or kwh is None else kwh + k
            co2 = None if c is None or co2 is None else co2 + c
            each.append((rec, parts))
        kinds = {kind for _, parts in each for kind, _ in parts}
        weakest = next(kind for kind in ("not known", "estimated", "measured") if kind in kinds)
        one = sum(len(parts) for _, parts in each) == 1  # the kind said once, up front
        described = []
        for i, (rec, parts) in enumerate(each):
            text = "; ".join(how if one else f"{kind} {how}" for kind, how in parts)
            described.append(f"phase {i + 1} ({rec.get('preset') or '?'}): {text}" if len(phases) > 1 else text)
        rows.append(
            {
                "model": folder.name,
                "train_seconds": total_s or None,
                "device": cfg.get("device"),
                "kwh": None if kwh is None else round(kwh, 6),
                "co2_kg": None if kwh is None or co2 is None else round(co2, 6),
                "how": f"{weakest}: " + " | ".join(described),
            }
        )
    return rows


def cmd_report_energy(args: argparse.Namespace) -> int:
    folders = [Path(p) for p in (args.pictures or [])]
    if not folders:
        folders = [Path(args.data_dir) / "images"]
    missing = [str(f) for f in folders if not f.is_dir()]
    history = _history_energy([f for f in folders if f.is_dir()])
    models = _models_energy(not args.no_estimate)
    report = {"history": history, "read": [str(f) for f in folders], "missing": missing, "models": models}
    report["published"] = [{"what": w, "figure": f, "source": s} for w, f, s in PUBLISHED]
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print("Pictures (from their provenance):")
    if history["pictures"]:
        print(
            f"  {history['pictures']} pictures, {history['wh']:.4g} Wh, {history['co2_g']:.4g} g CO2e "
            f"({history['wh_per_picture']:.4g} Wh a picture)"
        )
        for k, v in history["by_generator"].items():
            print(f"    {k}: {v['pictures']} pictures, {v['wh']:.4g} Wh")
        for m in history["methods"]:
            print(f"  measured by {m}")
    else:
        print(f"  none with energy figures under {', '.join(report['read'])}")
    print("Shipped models (training):")
    for r in models:
        figure = f"{r['kwh'] * 1000:.4g} Wh" if r["kwh"] is not None else "unknown"
        if r.get("co2_kg") is not None:
            figure += f", {r['co2_kg'] * 1000:.4g} g CO2e"
        print(f"  {r['model']}: {figure} ({r['how']})")
    print("Published figures, for scale:")
    for w, f, s in PUBLISHED:
        print(f"  {w}: {f} [{s}]")
    return 0


def add_report(sub) -> None:
    from .serve import _default_data_dir

    r = sub.add_parser("report", help="summaries: `report energy` (what generating and training used)")
    rs = r.add_subparsers(dest="report", metavar="REPORT")
    rs.required = True
    e = rs.add_parser(
        "energy",
        help="energy and CO2 of the pictures made and the shipped models' training, beside published figures",
        description="Sum the energy and CO2e recorded in the provenance of the pictures under --pictures "
        "(default: the server's history under --data-dir), list each shipped model's training energy "
        "(measured, or estimated from its recorded training time, or unknown), and set them beside "
        "published figures for large models (cited).",
    )
    e.add_argument("--pictures", action="append", metavar="DIR", help="a folder of pictures with sidecars (repeatable)")
    e.add_argument(
        "--data-dir",
        default=_default_data_dir(),
        help="the server's data folder, read when no --pictures is given (default: as `promptism serve`)",
    )
    e.add_argument(
        "--no-estimate",
        action="store_true",
        help="do not estimate unmeasured training energy (the estimate runs the CPU for a few seconds)",
    )
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(func=cmd_report_energy)


def cmd_probe(args: argparse.Namespace) -> int:
    from ..eval.probe import probe, read_prompts, write

    result = probe(
        read_prompts(args.prompts),
        args.attribute,
        generator=args.generator,
        n=args.n,
        seed=args.seed,
        reader=args.reader,
        progress=not args.quiet,
    )
    for path in write(result, args.out):
        print(path)
    if not args.quiet:
        print(result.table())
    return 0


def add_probe(sub) -> None:
    from ..eval.probe import ATTRIBUTES

    p = sub.add_parser(
        "probe",
        help="a bias probe: how a generator fills in an attribute the prompt leaves unstated",
        description='Draw pictures for prompts that leave an attribute unstated ("a circle" says no colour), '
        "read the attribute of every object (the Scene World's judge, or CLIP zero-shot for other data) and "
        "compare its distribution with the training data's and with uniform: OUT/probe-<generator>-<attribute>"
        ".json, .md (a table) and .png (a chart).",
    )
    p.add_argument("--prompts", required=True, metavar="FILE", help="prompts, one a line (# starts a comment)")
    p.add_argument("--attribute", required=True, choices=ATTRIBUTES, help="the attribute the prompts leave unstated")
    p.add_argument(
        "--generator", default="unclip", choices=("unclip", "dalle-mini"), help="the generator (default: unclip)"
    )
    p.add_argument("-n", type=int, default=4, help="pictures a prompt (default: 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first picture (default: 0)")
    p.add_argument(
        "--reader", default="judge", choices=("judge", "clip"), help="who reads the attribute (default: the judge)"
    )
    p.add_argument("--out", default="probe", help="folder for the report (default: ./probe)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    p.set_defaults(func=cmd_probe)
