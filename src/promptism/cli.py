"""The ``promptism`` command: one entry point, one subcommand per job.

Each subcommand imports what it needs when it runs, so ``promptism world ...`` starts without
loading torch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import PromptismError


def set_threads(n: int | None) -> None:
    """Cap the threads numerical libraries use (other processes share this machine)."""
    if n is None:
        n_env = os.environ.get("PROMPTISM_THREADS")
        n = int(n_env) if n_env else None
    if n is None:
        return
    if n < 1:
        raise PromptismError(f"--threads must be at least 1, got {n}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["PROMPTISM_THREADS"] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


# --------------------------------------------------------------------------------------------
# world
# --------------------------------------------------------------------------------------------
def cmd_world_show(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL.PngImagePlugin import PngInfo

    from .world import layout, parse, render

    constraints = parse(args.prompt)
    if args.style:
        from dataclasses import replace

        constraints = replace(
            constraints, style=args.style, background="black" if args.style == "neon" else constraints.background
        )
    scene = layout(constraints, np.random.default_rng(args.seed))
    img = render(scene, args.size)
    info = PngInfo()
    info.add_text("Software", f"promptism {__version__}")
    info.add_text("promptism:operation", "world show (ground-truth render)")
    info.add_text("promptism:prompt", args.prompt)
    info.add_text("promptism:seed", str(args.seed))
    info.add_text("promptism:scene", json.dumps(scene.to_dict()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, pnginfo=info)
    objs = ", ".join(f"{o.size} {o.color} {o.shape} at ({o.x:.2f}, {o.y:.2f})" for o in scene.objects)
    print(f"wrote {out} ({args.size}x{args.size}, {scene.style} on {scene.background}): {objs}")
    return 0


def cmd_world_parse(args: argparse.Namespace) -> int:
    from .world import parse

    print(json.dumps(parse(args.prompt).to_dict(), indent=1))
    return 0


def cmd_world_vocab(args: argparse.Namespace) -> int:
    from .world import captions, vocab

    print("shapes:      " + ", ".join(f"{s} ({'/'.join(w)})" for s, w in vocab.SHAPE_SYNONYMS.items()))
    print("colours:     " + ", ".join(vocab.COLORS))
    print("sizes:       " + ", ".join(f"{w}={s}" for w, s in vocab.SIZE_WORDS.items()))
    print("counts:      a/an, one, two, three, four (or 1-4)")
    print("positions:   " + ", ".join(vocab.POSITIONS) + "  (e.g. 'in the top left corner', 'on the left')")
    print("relations:   " + "; ".join(f"{r}: {', '.join(p)}" for r, p in captions.RELATION_PHRASES.items()))
    print("backgrounds: " + ", ".join(vocab.BACKGROUNDS) + "  (e.g. 'on a gray background', 'under a blue sky')")
    print("styles:      " + "; ".join(f"{s}: {', '.join(p)}" for s, p in captions.STYLE_PHRASES.items()))
    print(
        "held out:    " + ", ".join(sorted(f"{c} {s}" for c, s in vocab.HELD_OUT_PAIRS)) + "  (never in training data)"
    )
    return 0


def cmd_world_make(args: argparse.Namespace) -> int:
    from .world.shards import make_dataset

    m = make_dataset(
        args.out,
        args.n,
        size=args.size,
        seed=args.seed,
        val_fraction=args.val_fraction,
        shard_size=args.shard_size,
        workers=args.workers,
        progress=not args.quiet,
    )
    parts = ", ".join(f"{s}: {v['n']} in {len(v['shards'])} shards" for s, v in m["splits"].items())
    print(f"dataset ready in {args.out} ({parts})")
    return 0


# --------------------------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------------------------
def _splits(arg: str) -> tuple[str, ...]:
    from .world.suite import SPLITS

    return SPLITS if arg == "all" else (arg,)


def cmd_eval_prompts(args: argparse.Namespace) -> int:
    from .world.suite import all_prompts

    lines = [json.dumps(p.to_dict()) for p in all_prompts(_splits(args.split))]
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
        print(f"wrote {len(lines)} prompts to {args.out}")
    else:
        print("\n".join(lines))
    return 0


def cmd_eval_truth(args: argparse.Namespace) -> int:
    from .world.suite import write_truth

    n = write_truth(
        args.out,
        size=args.size,
        style=args.style,
        splits=_splits(args.split),
        limit=args.limit,
        progress=not args.quiet,
    )
    print(f"wrote {n} ground-truth pictures under {args.out}")
    return 0


def cmd_eval_suite(args: argparse.Namespace) -> int:
    from .world.suite import evaluate_dir, table_text, write_reports

    result = evaluate_dir(
        args.images,
        splits=_splits(args.split),
        limit=args.limit,
        allow_missing=args.allow_missing,
        progress=not args.quiet,
    )
    print(table_text(result))
    out = Path(args.out) if args.out else Path(args.images) / "report"
    paths = write_reports(result, out, meta={"images": str(args.images), "limit": args.limit or "none"})
    print("reports: " + ", ".join(str(p) for p in paths.values()))
    if result.problems:
        print(f"{len(result.problems)} picture(s) were missing or unreadable and scored as incorrect", file=sys.stderr)
    return 0


def cmd_eval_judge(args: argparse.Namespace) -> int:
    from .world import judge, read

    if args.prompt:
        j = judge(args.image, args.prompt)
        reading = j.reading
    else:
        j, reading = None, read(args.image)
    if args.json:
        out = {"reading": reading.to_dict()}
        if j is not None:
            out.update(correct=j.correct, reasons=j.reasons)
        print(json.dumps(out, indent=1))
        return 0
    print(f"background: {reading.background}")
    for o in reading.objects:
        print(f"  {o.describe()}  (shape fit {o.shape_iou:.2f})")
    if not reading.objects:
        print("  no objects found")
    if j is not None:
        print("correct" if j.correct else "incorrect: " + j.reason)
    return 0


# --------------------------------------------------------------------------------------------
# clip
# --------------------------------------------------------------------------------------------
def _torch_threads() -> None:
    """Torch's thread count for a command that runs torch: --threads / $PROMPTISM_THREADS (main
    put it in the environment), else the cores idle at start when some are busy
    (threads.auto_threads; measured here, so that commands without torch don't wait for it)."""
    if not os.environ.get("PROMPTISM_THREADS"):
        from .threads import auto_threads

        set_threads(auto_threads())  # before torch is imported, as main's own count is
    import torch

    n = os.environ.get("PROMPTISM_THREADS")
    if n:
        torch.set_num_threads(int(n))


def _kind_weights(text: str) -> dict[str, float]:
    """ "swap_colors=4,relation=4" -> {"swap_colors": 4.0, "relation": 4.0}, kinds checked."""
    from .world.negatives import KINDS

    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, eq, value = part.partition("=")
        if not eq or kind.strip() not in KINDS:
            raise argparse.ArgumentTypeError(f"{part!r}: expected KIND=WEIGHT with KIND one of {', '.join(KINDS)}")
        try:
            w = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: the weight must be a number") from None
        if not (w >= 0 and w < float("inf")):
            raise argparse.ArgumentTypeError(f"{part!r}: the weight must be 0 or more")
        out[kind.strip()] = w
    return out


def _share(text: str) -> float:
    """ "0.25" -> 0.25, a share between 0 and 1."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number between 0 and 1") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number between 0 and 1")
    return v


def _counterfactual_kinds(text: str) -> tuple[str, ...]:
    """ "relation" -> ("relation",), kinds checked."""
    from .world.negatives import COUNTERFACTUAL_KINDS

    kinds = tuple(filter(None, (k.strip() for k in text.split(","))))
    bad = [k for k in kinds if k not in COUNTERFACTUAL_KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: expected kinds among {', '.join(COUNTERFACTUAL_KINDS)}")
    return kinds


def cmd_train_clip(args: argparse.Namespace) -> int:
    _torch_threads()
    from .clip.train import train_clip

    folder = train_clip(
        args.data,
        args.out,
        args.preset or "world",
        hard_negatives=not args.no_hard_negatives,
        limit=args.limit,
        counterfactuals=args.counterfactuals,
        separate=args.separate,
        compose=args.compose,
        negative_weights=args.negative_weights,
        compose_text=args.compose_text,
        relate=args.relate,
        relate_picture=args.relate_picture,
        relate_caption=args.relate_caption,
        counterfactual_kinds=args.counterfactual_kinds,
        rank=args.rank,
        rank_margin=args.rank_margin,
        colorless=args.colorless,
        colorless_relations=args.colorless_relations,
        attributes=args.attributes,
        progress=not args.quiet,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        ema=args.ema,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
    )
    print(f"model written to {folder} (load it with promptism.clip.load({str(folder)!r}))")
    return 0


def _settings_kwargs(args: argparse.Namespace) -> dict:
    """The Settings fields the sampling options set (those a command has)."""
    names = (
        "sampler",
        "steps",
        "prior_steps",
        "upsampler_steps",
        "guidance_prior",
        "guidance_decoder",
        "guidance_text",
        "eta",
        "rerank",
        "rerank_clip",
    )
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def _run_pipeline(args: argparse.Namespace, fn, *a, **kw):
    """Load the models named by the options, run fn with them, print each warning once."""
    _torch_threads()
    import warnings

    from .pipelines.unclip import load_models

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = load_models(args.clip, args.prior, args.decoder, tuple(args.upsamplers))
        result = fn(*a, models=models, progress=not args.quiet, **kw, **_settings_kwargs(args))
    for message in dict.fromkeys(str(w.message) for w in caught):  # once each, in order
        print(f"promptism: warning: {message}", file=sys.stderr)
    return result


def _write(result, out: Path, names: list[str], sheet: str | None, cols: int | None = None) -> list[Path]:
    """Each picture as OUT/<name>.png (+ .json), and a contact sheet of them all."""
    from .pipelines.provenance import grid, save_png

    paths = [save_png(img, out / f"{name}.png", meta) for img, meta, name in zip(result.images, result.metadata, names)]
    if sheet and len(result.images) > 1:
        meta = {
            **{k: v for k, v in result.metadata[0].items() if k not in ("seed", "index", "theta")},
            "seeds": result.seeds,
            "layout": "grid",
        }
        if "theta" in result.metadata[0]:
            meta["thetas"] = [m["theta"] for m in result.metadata]
        paths.append(save_png(grid(result.images, cols), out / f"{sheet}.png", meta))
    return paths


def _done(paths: list[Path]) -> int:
    for path in paths:
        print(path)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .pipelines.settings import IMG2IMG_STRENGTH
    from .pipelines.unclip import generate

    if args.strength is not None and args.init is None:
        raise PromptismError("--strength says how much of an --init picture to keep: give --init IMAGE too")
    result = _run_pipeline(
        args,
        generate,
        args.prompt,
        n=args.n,
        seed=args.seed,
        size=args.size,
        negative=args.negative,
        init=args.init,
        strength=IMG2IMG_STRENGTH if args.strength is None else args.strength,
    )
    return _done(
        _write(result, Path(args.out), [str(sd) for sd in result.seeds], f"grid-{result.seeds[0]}-{len(result.seeds)}")
    )


def cmd_vary(args: argparse.Namespace) -> int:
    from .pipelines.edit import vary

    result = _run_pipeline(
        args,
        vary,
        args.image,
        n=args.n,
        seed=args.seed,
        size=args.size,
        invert=not args.no_invert,
        strength=args.strength,
    )
    return _done(
        _write(
            result,
            Path(args.out),
            [f"vary-{sd}" for sd in result.seeds],
            f"vary-grid-{result.seeds[0]}-{len(result.seeds)}",
        )
    )


def _end(text: str):
    """An interpolation end: an existing file is a picture, anything else a prompt (a name that
    looks like a picture file but is missing is an error, not a prompt)."""
    path = Path(text)
    if path.is_file():
        return path
    if " " not in text.strip() and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"):
        raise PromptismError(f"no such picture: {text!r} (an end is a picture file or a prompt)")
    return text


def cmd_interpolate(args: argparse.Namespace) -> int:
    from .pipelines.edit import interpolate
    from .pipelines.provenance import save_animation

    if not 10 <= args.frame_ms <= 10_000:
        raise PromptismError(f"--frame-ms must be 10 to 10000 milliseconds, got {args.frame_ms}")

    result = _run_pipeline(
        args, interpolate, _end(args.a), _end(args.b), frames=args.frames, seed=args.seed, size=args.size
    )
    out = Path(args.out)
    stem = f"interpolate-{args.seed}"
    paths = _write(
        result, out, [f"{stem}-frame{i}" for i in range(len(result.images))], f"{stem}-strip", cols=len(result.images)
    )
    paths.append(
        save_animation(
            result.images, out / f"{stem}.{args.format}", result.metadata[0], args.frame_ms, bounce=not args.no_bounce
        )
    )
    return _done(paths)


def cmd_edit(args: argparse.Namespace) -> int:
    from .pipelines.edit import text_diff

    result = _run_pipeline(
        args,
        text_diff,
        args.image,
        args.source,
        args.target,
        amount=args.amount,
        frames=args.frames,
        seed=args.seed,
        size=args.size,
    )
    stem = f"edit-{args.seed}"
    return _done(
        _write(
            result,
            Path(args.out),
            [f"{stem}-{i}" for i in range(len(result.images))],
            f"{stem}-strip",
            cols=len(result.images),
        )
    )


def _method_option(p: argparse.ArgumentParser) -> None:
    from .pipelines.settings import INPAINT_METHOD, INPAINT_METHODS

    p.add_argument(
        "--method",
        choices=INPAINT_METHODS,
        default=INPAINT_METHOD,
        help="how the decoder inpaints: 'repaint' training-free RePaint with any decoder (2.5-3.6x "
        "slower by run, and with the shipped decoder far more often right), 'decoder' through its "
        "inpainting channels (GLIDE-style; the shipped decoder has them), 'auto' the channels "
        f"where the decoder has them (default: {INPAINT_METHOD})",
    )


def cmd_inpaint(args: argparse.Namespace) -> int:
    from .pipelines.edit import inpaint

    result = _run_pipeline(
        args,
        inpaint,
        args.image,
        args.mask,
        args.prompt or "",
        n=args.n,
        seed=args.seed,
        size=args.size,
        resample=args.resample,
        method=args.method,
    )
    return _done(
        _write(
            result,
            Path(args.out),
            [f"inpaint-{sd}" for sd in result.seeds],
            f"inpaint-grid-{result.seeds[0]}-{len(result.seeds)}",
        )
    )


def cmd_outpaint(args: argparse.Namespace) -> int:
    from .pipelines.edit import outpaint, parse_pad

    pad = parse_pad(args.pad)
    result = _run_pipeline(
        args,
        outpaint,
        args.image,
        pad,
        args.prompt or "",
        n=args.n,
        seed=args.seed,
        size=args.size,
        resample=args.resample,
        method=args.method,
    )
    return _done(
        _write(
            result,
            Path(args.out),
            [f"outpaint-{sd}" for sd in result.seeds],
            f"outpaint-grid-{result.seeds[0]}-{len(result.seeds)}",
        )
    )


def cmd_serve(args: argparse.Namespace) -> int:
    _torch_threads()
    from .server.app import ServerConfig, serve

    keys = tuple(args.api_key or ()) + tuple(k for k in os.environ.get("PROMPTISM_API_KEYS", "").split(",") if k)
    serve(
        ServerConfig(
            data_dir=args.data_dir,
            host=args.host,
            port=args.port,
            api_keys=keys,
            policy=args.policy,
            max_queue=args.max_queue,
            concurrency=args.concurrency,
            job_timeout_s=args.job_timeout,
            max_upload_bytes=args.max_upload_mb * 2**20,
            clip=args.clip,
            prior=args.prior,
            decoder=args.decoder,
            upsamplers=tuple(args.upsamplers),
            defaults={
                k: v
                for k, v in (
                    ("steps", args.steps),
                    ("prior_steps", args.prior_steps),
                    ("upsampler_steps", args.upsampler_steps),
                    ("rerank", args.rerank),
                )
                if v is not None
            },
        )
    )
    return 0


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "promptism")


def cmd_train_stage(args: argparse.Namespace) -> int:
    _torch_threads()
    from .train.stages import train_stage

    preset = args.preset or ("world-64" if args.kind == "upsampler" else "world")
    folder = train_stage(
        args.kind,
        args.data,
        args.out,
        preset,
        embeddings=getattr(args, "embeddings", None),
        clip_name=getattr(args, "clip", "world"),
        limit=args.limit,
        progress=not args.quiet,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        ema=args.ema,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        init=args.init,
    )
    print(f"model written to {folder}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    _torch_threads()
    from .data.embeddings import embed_dataset

    out = embed_dataset(args.data, args.out, args.clip, args.split, limit=args.limit, progress=not args.quiet)
    print(f"embeddings written to {out}")
    return 0


def _training_options(parser: argparse.ArgumentParser, presets: str) -> None:
    """The options every `promptism train` subcommand shares."""
    parser.add_argument(
        "--data",
        required=True,
        help="a Scene World dataset folder, .tar shards (a brace or glob pattern), or a folder of pictures with .txt captions",
    )
    parser.add_argument(
        "--out", required=True, help="run folder: checkpoint, TensorBoard logs, and the final model in OUT/model"
    )
    parser.add_argument(
        "--preset", "--config", dest="preset", default=None, help=f"model and schedule preset: {presets}"
    )
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--batch-size", type=int, default=None, help="global batch size (default: the preset's)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the preset's)")
    parser.add_argument(
        "--ema", type=float, default=None, help="EMA decay of the weights, e.g. 0.999 (default: the preset's)"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=None, help="steps between checkpoints (default: the preset's)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the initialisation and the data order (default: 0)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training pairs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _load_images(paths: list[str]):
    from PIL import Image

    from .world.judge import load_image

    return [Image.fromarray(load_image(p)) for p in paths]


def cmd_clip_score(args: argparse.Namespace) -> int:
    _torch_threads()
    from . import clip

    model = clip.load(args.model)
    sims = model.score(_load_images([args.image]), args.texts)[0]
    for text, s in sorted(zip(args.texts, sims.tolist()), key=lambda t: -t[1]):
        print(f"{s:+.4f}  {text}")
    return 0


def cmd_clip_zeroshot(args: argparse.Namespace) -> int:
    _torch_threads()
    from . import clip

    model = clip.load(args.model)
    probs = model.zero_shot(_load_images([args.image]), args.labels, args.template or ["{}"])[0]
    for label, p in sorted(zip(args.labels, probs.tolist()), key=lambda t: -t[1]):
        print(f"{p:6.3f}  {label}")
    return 0


# --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from .world.vocab import STYLES

    p = argparse.ArgumentParser(
        prog="promptism",
        description="Promptism: text-to-image (CLIP, unCLIP and the generators before them), trainable on your own data.",
    )
    p.add_argument("--version", action="version", version=f"promptism {__version__}")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for numerical libraries (default: $PROMPTISM_THREADS, else as many as cores were "
        "idle over 0.1 s at start when some were busy, else the library default)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    w = sub.add_parser("world", help="the built-in Scene World: render, parse, make datasets")
    ws = w.add_subparsers(dest="world_command", metavar="WORLD_COMMAND")
    ws.required = True
    show = ws.add_parser("show", help="render the ground-truth picture of a prompt")
    show.add_argument("prompt", help='a caption in the world\'s words, e.g. "two yellow stars and a blue box"')
    show.add_argument("--out", default="scene.png", help="PNG file to write (default: scene.png)")
    show.add_argument("--size", type=int, default=64, help="canvas side in pixels, 32-256 (default: 64)")
    show.add_argument("--seed", type=int, default=0, help="seed of the layout and of unstated colours (default: 0)")
    show.add_argument("--style", choices=STYLES, default=None, help="draw in this style, overriding the prompt's")
    show.set_defaults(func=cmd_world_show)

    parse_ = ws.add_parser("parse", help="print the constraints a caption states, as JSON")
    parse_.add_argument("prompt", help="the caption to read")
    parse_.set_defaults(func=cmd_world_parse)

    vocab_ = ws.add_parser("vocab", help="list the words the world understands")
    vocab_.set_defaults(func=cmd_world_vocab)

    make = ws.add_parser("make", help="write a dataset as WebDataset shards (resumable: rerun to finish)")
    make.add_argument("--out", required=True, help="dataset folder (created; rerunning finishes or verifies it)")
    make.add_argument("--n", type=int, required=True, help="number of pictures, train + val")
    make.add_argument("--size", type=int, default=64, help="picture side in pixels, 32-256 (default: 64)")
    make.add_argument(
        "--seed", type=int, default=0, help="dataset seed: the same seed gives the same shards (default: 0)"
    )
    make.add_argument(
        "--val-fraction", type=float, default=0.05, help="share of pictures in the val split (default: 0.05)"
    )
    make.add_argument("--shard-size", type=int, default=1000, help="pictures per shard (default: 1000)")
    make.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes writing shards in parallel (default: min(2, CPUs))",
    )
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=cmd_world_make)

    e = sub.add_parser("eval", help="GenEval-world: the evaluation suite and its judge")
    es = e.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND")
    es.required = True
    split_help = "which split: seen, heldout or all (default: all)"

    prompts = es.add_parser("prompts", help="list the suite's prompts as JSON lines (id, category, split, text)")
    prompts.add_argument("--split", choices=("seen", "heldout", "all"), default="all", help=split_help)
    prompts.add_argument("--out", default=None, help="write to this file instead of standard output")
    prompts.set_defaults(func=cmd_eval_prompts)

    truth = es.add_parser("truth", help="render ground-truth pictures of the suite as <prompt id>/<k>.png")
    truth.add_argument("--out", required=True, help="folder to write")
    truth.add_argument("--size", type=int, default=64, help="picture side in pixels, 32-256 (default: 64)")
    truth.add_argument("--style", choices=STYLES, default="flat", help="drawing style (default: flat)")
    truth.add_argument("--split", choices=("seen", "heldout", "all"), default="all", help=split_help)
    truth.add_argument("--limit", type=int, default=None, help="only the first N prompts of each category")
    truth.add_argument("--quiet", action="store_true", help="no progress bar")
    truth.set_defaults(func=cmd_eval_truth)

    suite = es.add_parser(
        "suite", help="score pictures saved as <prompt id>/<k>.png; write JSON, Markdown and a contact sheet"
    )
    suite.add_argument("--images", required=True, help="folder holding <prompt id>/<k>.png for k = 0..3")
    suite.add_argument("--out", default=None, help="report folder (default: IMAGES/report)")
    suite.add_argument("--split", choices=("seen", "heldout", "all"), default="all", help=split_help)
    suite.add_argument(
        "--limit", type=int, default=None, help="only the first N prompts of each category (a quick look)"
    )
    suite.add_argument(
        "--allow-missing",
        action="store_true",
        help="score missing or unreadable pictures as incorrect instead of stopping",
    )
    suite.add_argument("--quiet", action="store_true", help="no progress bar")
    suite.set_defaults(func=cmd_eval_suite)

    judge_ = es.add_parser("judge", help="show what the judge finds in one picture, and check a prompt")
    judge_.add_argument("image", help="a PNG or other picture file")
    judge_.add_argument("--prompt", default=None, help="a caption to check the picture against")
    judge_.add_argument("--json", action="store_true", help="print JSON instead of text")
    judge_.set_defaults(func=cmd_eval_judge)
    t = sub.add_parser("train", help="train a model (resumes from OUT/checkpoint when there is one)")
    ts = t.add_subparsers(dest="train_command", metavar="MODEL")
    ts.required = True
    tc = ts.add_parser("clip", help="train a CLIP on image-caption data")
    _training_options(
        tc,
        "world (default), world-bind, world-bind2 (the reranking CLIP's: binds colours to shapes), "
        "world-bind3 (world-bind2 with a causal text tower and the place loss: better relations, worse counts), "
        "world-bind4 (world-bind2 with the place loss), world-bind5 (world-bind2 with the causal tower), "
        "world-bind6 (world-bind3 with the place loss on captions only: not better), world-bind7 "
        "(world-bind3 with it on pictures only: counts kept, relations not better), world-bind8 (world-bind3 with "
        "its caption term at a quarter: better relations, worse held-out zero-shot shapes), world-bind9 and world-bind10 "
        "(world-bind7 and world-bind8 with counterfactual pictures of every relation, its objects exchanged; "
        "world-bind10 meets every bar but seen counts), world-bind11 (world-bind10 with counterfactual "
        "pictures of counts too, one copy added or taken away: counts met, seen relations not), world-bind12 "
        "(world-bind10 with count negatives drawn more often: relations met, counts not), world-bind13 "
        "(world-bind11 with relation negatives drawn more often: neither met), world-bind14 "
        "(world-bind11 with the rank loss: each true pair must beat its twin by a margin; relations and counts "
        "met, held-out zero-shot shapes not), world-bind15 (world-bind14 with a quarter of the captions shown without "
        "their colour words: held-out zero-shot shapes met, seen relations not), world-bind16 (world-bind15 "
        "with relation captions always coloured: seen relations met, held-out zero-shot colours not), "
        "world-bind17 (world-bind15 with the rank loss doubled: every quality bar met in 88 minutes; the default before world-bind21), "
        "world-bind18 (world-bind17 with a narrower image tower and 2,400 steps: 45.4 minutes, held-out zero-shot "
        "shapes lost), world-bind19 (world-bind17 with a stride-2 first image stage, a 192-wide text tower "
        "and 2,200 steps: 43.7 minutes, zero-shot colours and held-out shapes lost), world-bind20 "
        "(world-bind19 with the full text tower: seen colours back, held-out shapes and relations lost, 48.8 minutes), "
        "world-bind21 (world-bind19 with the attribute loss, which colours and which shapes each apart: every bar met "
        "in 39.8 minutes; the shipped default), "
        "or tiny",
    )
    tc.add_argument(
        "--no-hard-negatives",
        action="store_true",
        help="train without the composition-aware hard-negative captions (plain CLIP loss)",
    )
    tc.add_argument(
        "--counterfactuals",
        type=float,
        default=None,
        help="counterfactual pairs (a scene re-rendered with colours swapped, related objects exchanged "
        "or a counted object's copies changed by one) "
        "added per batch pair, Scene World data only (default: the preset's; 0, none, for world and tiny)",
    )
    tc.add_argument(
        "--counterfactual-kinds",
        type=_counterfactual_kinds,
        default=None,
        metavar="KIND,...",
        help="which edits make counterfactual pairs: swap_colors, relation, count, comma-separated "
        "(default: the preset's, else all three)",
    )
    tc.add_argument(
        "--separate",
        type=float,
        default=None,
        help="weight of the term keeping near twins apart (a caption and its hard negative, a picture and "
        "its counterfactual) once their cosine passes 0.8 (default: the preset's; 0, off, for world and tiny)",
    )
    tc.add_argument(
        "--compose",
        type=float,
        default=None,
        help="weight of the composition loss: a linear head on the picture embedding predicts which "
        "(colour, shape) pairs the picture holds and where, from the Scene World's scene records "
        "(default: the preset's)",
    )
    tc.add_argument(
        "--compose-text",
        type=float,
        default=None,
        help="weight of the same head's loss on caption embeddings, with targets from what each caption "
        "states: the pairs it names and their colour swap (default: the preset's)",
    )
    tc.add_argument(
        "--relate",
        type=float,
        default=None,
        help="weight of the place loss: a linear head reads where each colour and each shape is off the "
        "picture embedding, and which side of the other a stated relation puts them off the caption "
        "embedding, from the Scene World's records (default: the preset's)",
    )
    tc.add_argument(
        "--relate-picture",
        type=float,
        default=None,
        help="weight, within the place loss, of its picture term (where each colour and shape is) against "
        "its caption term (the sides a stated relation names); 0 trains the head on captions only "
        "(default: the preset's, else 1)",
    )
    tc.add_argument(
        "--relate-caption",
        type=float,
        default=None,
        help="weight, within the place loss, of its caption term; 0 trains the head on pictures only "
        "(default: the preset's, else 1)",
    )
    tc.add_argument(
        "--rank",
        type=float,
        default=None,
        help="weight of the rank loss (CE-CLIP's): each caption must beat its hard negative, and each "
        "picture its counterfactual, by --rank-margin in cosine (default: the preset's, else 0, off)",
    )
    tc.add_argument(
        "--rank-margin",
        type=float,
        default=None,
        help="the cosine gap the rank loss asks of each true pair over its twin (default: the preset's, else 0.1)",
    )
    tc.add_argument(
        "--colorless",
        type=_share,
        default=None,
        metavar="P",
        help='share of captions shown without their colour words ("a red circle above a blue square" -> '
        '"a circle above a square") where that stays true of the picture, so that a shape\'s name '
        "alone fits it in every colour (default: the preset's, else 0, off)",
    )
    tc.add_argument(
        "--colorless-no-relations",
        dest="colorless_relations",
        action="store_false",
        default=None,
        help="keep the colour words of every caption that states a relation: --colorless shortens only "
        "the others (default: the preset's, else relation captions are shortened too)",
    )
    tc.add_argument(
        "--attributes",
        type=float,
        default=None,
        help="weight of the attribute loss: the composition head also reads which colours and which "
        "shapes a picture holds, and a caption names, each apart from the other, so that a shape's "
        "features hold in colours it was never seen in (default: the preset's, else 0, off)",
    )
    tc.add_argument(
        "--negative-weights",
        type=_kind_weights,
        default=None,
        metavar="KIND=W,...",
        help="how often each kind of hard negative is drawn where several apply, e.g. "
        "swap_colors=4,relation=4 (kinds: swap_colors, relation, count, shape, color; "
        "1 where not named; default: the preset's, else uniform)",
    )
    tc.set_defaults(func=cmd_train_clip)
    for kind, presets, what in (
        (
            "decoder",
            "world (default), then with --init the later phases of the shipped decoder: "
            "world-ft, world-ft2, world-inpaint (adds the inpainting channels), world-reclip "
            "(moves it to another CLIP's embeddings), world-more, world-more-ln, world-more-ln2 "
            "and world-more-ln3 (more training on the same embeddings; -ln draws timesteps "
            "logit-normally, -ln2 and -ln3 continue it), world-aug (world-more-ln3 with the "
            "image embeddings perturbed: conditioning augmentation); or tiny, tiny-inpaint",
            "the unCLIP decoder: CLIP image embedding + caption -> 32 px picture",
        ),
        ("prior", "world (default) or tiny", "the unCLIP diffusion prior: caption -> CLIP image embedding"),
        (
            "upsampler",
            "world-64 (32->64 px), world-128 (64->128 px), their fine-tuning presets world-64-ft and world-128-ft, the residual upsamplers world-64-res and tiny-res, world-64-res-more (continues world-64-res, with --init), or tiny",
            "an unCLIP upsampler",
        ),
    ):
        st = ts.add_parser(kind, help=f"train {what}")
        _training_options(st, presets)
        st.add_argument(
            "--init",
            default=None,
            help="fine-tune: start from this model folder or shipped model name, e.g. world-64 (same "
            "architecture as the preset), instead of random weights",
        )
        if kind != "upsampler":
            st.add_argument(
                "--embeddings",
                default=None,
                help="CLIP embeddings of the training pairs from `promptism embed` "
                "(default: computed with --clip and kept in OUT/embeddings.safetensors)",
            )
            st.add_argument(
                "--clip", default="world", help="the CLIP whose embeddings the stage learns (default: world)"
            )
        st.set_defaults(func=cmd_train_stage, kind=kind)

    from .pipelines.settings import (
        IMG2IMG_STRENGTH,
        MAX_PICTURES,
        MAX_RERANK,
        SAMPLER_NAMES,
        SIZES,
        Settings,
    )

    dflt = Settings()

    def rerank_options(q: argparse.ArgumentParser, against: str, cost: str) -> None:
        q.add_argument(
            "--rerank",
            type=int,
            default=None,
            metavar="K",
            help=f"draw K candidates of each picture and keep the one the reranking CLIP scores highest "
            f"{against}, 1 to {MAX_RERANK}; about K times {cost} time; 1 draws one "
            f"(default: {dflt.rerank})",
        )
        q.add_argument(
            "--rerank-clip",
            default=None,
            metavar="CLIP",
            help="the CLIP that reranks: a shipped name, a model folder or hf:<folder or hub id> "
            f"(default: {dflt.rerank_clip}, the shipped CLIP that binds colours to shapes)",
        )

    def sampling_options(
        q: argparse.ArgumentParser,
        steps: int = dflt.steps,
        prior: bool = True,
        eta: float | None = dflt.eta,
        sampler_note: str = "",
    ) -> None:
        q.add_argument(
            "--seed", type=int, default=0, help="seed of the first picture; picture i uses seed + i (default: 0)"
        )
        q.add_argument("--out", default="out", help="folder for the pictures (default: out)")
        q.add_argument(
            "--size",
            type=int,
            default=64,
            choices=SIZES,
            help="picture side in pixels (default: 64); the shipped models make 32 and 64",
        )
        q.add_argument(
            "--sampler",
            default=None,
            choices=list(SAMPLER_NAMES),
            help=f"sampler{sampler_note} (default: {dflt.sampler})",
        )
        q.add_argument("--steps", type=int, default=None, help=f"decoder sampling steps (default: {steps})")
        if prior:
            q.add_argument(
                "--prior-steps", type=int, default=None, help=f"prior sampling steps (default: {dflt.prior_steps})"
            )
            q.add_argument(
                "--guidance-prior",
                type=float,
                default=None,
                help=f"classifier-free guidance scale of the prior, 0 to 30 (default: {dflt.guidance_prior:g})",
            )
        q.add_argument(
            "--upsampler-steps",
            type=int,
            default=None,
            help=f"sampling steps of each upsampler (default: {dflt.upsampler_steps})",
        )
        q.add_argument(
            "--guidance-decoder",
            type=float,
            default=None,
            help=f"classifier-free guidance scale of the decoder, 0 to 30 (default: {dflt.guidance_decoder:g})",
        )
        if prior:
            q.add_argument(
                "--guidance-text",
                type=float,
                default=None,
                help="more guidance on the decoder's caption alone (the caption against the negative prompt, "
                f"with the image embedding in both), 0 to 30; 0 is plain guidance (default: "
                f"{dflt.guidance_text:g})",
            )
        if eta is not None:
            q.add_argument(
                "--eta", type=float, default=None, help=f"DDIM noise: 0 deterministic, 1 ancestral (default: {eta:g})"
            )
        q.add_argument(
            "--clip",
            default=None,
            help="CLIP: 'world' (shipped), a model folder, or hf:<folder or hub id> "
            "(default: the one the prior was trained on, as its config.json names it)",
        )
        q.add_argument("--prior", default="world", help="prior: a shipped name (world) or a model folder")
        q.add_argument("--decoder", default="world", help="decoder: a shipped name (world) or a model folder")
        q.add_argument(
            "--upsamplers",
            nargs="*",
            default=["world-64"],
            help="upsamplers in order: shipped names or model folders (default: world-64; no 64->128 "
            "upsampler ships yet, so --size 128 needs one you trained)",
        )
        q.add_argument("--quiet", action="store_true", help="no progress bars")

    g = sub.add_parser(
        "generate",
        help="unCLIP text-to-image: pictures of a prompt, each PNG with its provenance",
        description="Draw pictures of a prompt with unCLIP (prior -> decoder -> upsamplers). Each "
        "picture is written as OUT/<seed>.png with a <seed>.json sidecar, and a grid of "
        "all of them. Picture i uses seed + i, so the same seed gives the same pictures. "
        "A prompt longer than the tokenizer's context (28 tokens for the shipped models) "
        "is truncated with a warning; words the models never saw give a warning that "
        "names them.",
    )
    g.add_argument("prompt", help='what to draw, e.g. "a red circle above a blue square"')
    g.add_argument("-n", type=int, default=4, help=f"how many pictures, 1 to {MAX_PICTURES} (default: 4)")
    g.add_argument("--negative", default=None, help="a negative prompt: guidance pushes away from it")
    g.add_argument(
        "--init",
        default=None,
        metavar="IMAGE",
        help="start from this picture instead of noise (SDEdit img2img): its centred square is noised "
        "to --strength and denoised towards the prompt",
    )
    g.add_argument(
        "--strength",
        type=float,
        default=None,
        help="with --init: how much noise, above 0 to 1; 1 keeps nothing of the picture, 0.3 keeps most "
        f"(default: {IMG2IMG_STRENGTH:g}); about strength x steps steps run",
    )
    rerank_options(g, "against the prompt (less the negative prompt)", "the prior's and decoder's")
    sampling_options(g)
    g.set_defaults(func=cmd_generate)

    from .pipelines.settings import (
        INPAINT_RESAMPLE,
        INPAINT_STEPS,
        INVERSION_STEPS,
        MAX_FRAMES,
        TEXT_DIFF_AMOUNT,
        VARY_ETA,
    )

    v = sub.add_parser(
        "vary",
        help="variations of a picture: its CLIP image embedding, decoded again",
        description="Variations of a picture (unCLIP §3.1): the decoder draws from the picture's "
        "CLIP image embedding, starting from the DDIM inversion of the picture and "
        "sampling back with DDIM noise --eta. --no-invert starts from fresh noise "
        "instead. Non-square pictures are cropped to their centred square. Writes "
        "OUT/vary-<seed>.png (+ .json) and a grid.",
    )
    v.add_argument("image", help="the picture (PNG, JPEG, WebP, …; at most 4096x4096 pixels, 50 MB)")
    v.add_argument("-n", type=int, default=4, help=f"how many variations, 1 to {MAX_PICTURES} (default: 4)")
    v.add_argument("--no-invert", action="store_true", help="start each variation from fresh noise, not the inversion")
    v.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="how far to invert, above 0 to 1 of the noise schedule (default: 1, all the way)",
    )
    rerank_options(v, "against the source picture", "the decoder's")
    sampling_options(
        v,
        steps=INVERSION_STEPS,
        prior=False,
        eta=VARY_ETA,
        sampler_note=" of the upsamplers, and of the decoder with --no-invert "
        "(an inverted picture is sampled back with DDIM)",
    )
    v.set_defaults(func=cmd_vary)

    ip = sub.add_parser(
        "interpolate",
        help="frames between two pictures or prompts, as a strip and an animation",
        description="Interpolate spherically between the CLIP image embeddings of two ends (unCLIP "
        "§3.2) and between their decoder latents (a picture's DDIM inversion, a "
        "prompt's seeded noise), decoding every frame with DDIM and the same noise. "
        "Writes OUT/interpolate-<seed>-frame<k>.png, a strip and an animation.",
    )
    ip.add_argument("a", help="first end: a picture file, or a prompt")
    ip.add_argument("b", help="last end: a picture file, or a prompt")
    ip.add_argument("--frames", type=int, default=8, help=f"frames including both ends, 2 to {MAX_FRAMES} (default: 8)")
    ip.add_argument("--format", default="gif", choices=["gif", "webp"], help="animation format (default: gif)")
    ip.add_argument("--frame-ms", type=int, default=150, help="milliseconds per frame of the animation (default: 150)")
    ip.add_argument("--no-bounce", action="store_true", help="play the animation one way (default: there and back)")
    sampling_options(
        ip, steps=INVERSION_STEPS, eta=None, sampler_note=" of the prior and upsamplers (the decoder uses DDIM)"
    )
    ip.set_defaults(func=cmd_interpolate)

    ed = sub.add_parser(
        "edit",
        help="text-diff edit: move a picture's embedding from one description to another",
        description="Text-diff edit (unCLIP §3.3): rotate the picture's CLIP image embedding towards "
        "the normalised difference of the CLIP text embeddings of --to and --from, "
        "in --frames steps up to --amount, each decoded from the picture's DDIM "
        "inversion. Writes OUT/edit-<seed>-<k>.png and a strip.",
    )
    ed.add_argument("image", help="the picture to edit")
    ed.add_argument("--from", dest="source", required=True, help='what the picture shows now, e.g. "a red circle"')
    ed.add_argument("--to", dest="target", required=True, help='what it should show, e.g. "a blue circle"')
    ed.add_argument(
        "--amount",
        type=float,
        default=TEXT_DIFF_AMOUNT,
        help=f"the largest rotation, above 0 to 1 (default: {TEXT_DIFF_AMOUNT:g}, as in the paper)",
    )
    ed.add_argument("--frames", type=int, default=4, help="edits of growing amount (default: 4)")
    sampling_options(
        ed, steps=INVERSION_STEPS, prior=False, eta=None, sampler_note=" of the upsamplers (the decoder uses DDIM)"
    )
    ed.set_defaults(func=cmd_edit)

    inp = sub.add_parser(
        "inpaint",
        help="repaint the part of a picture a mask marks (white = repaint)",
        description="Inpainting: the mask is a picture of the same size, WHITE where to repaint "
        "and BLACK where to keep (grey from 128 counts as white; the convention "
        "diffusers uses). The decoder inpaints with training-free RePaint "
        "(or through its inpainting channels, --method) and the upsampler with RePaint, on a "
        "square around the mask; every pixel outside the mask stays exactly as it was. "
        "Writes OUT/inpaint-<seed>.png at the picture's own size.",
    )
    inp.add_argument("image", help="the picture")
    inp.add_argument("--mask", required=True, help="the mask: same size as the picture, white = repaint, black = keep")
    inp.add_argument("prompt", help='what to put there, e.g. "a yellow star"; "" fills it with more of the picture')
    inp.add_argument("-n", type=int, default=4, help=f"how many pictures, 1 to {MAX_PICTURES} (default: 4)")
    inp.add_argument(
        "--resample",
        type=int,
        default=INPAINT_RESAMPLE,
        help=f"RePaint rounds per step, 1 to 20: more agree better with the kept part, slower "
        f"(default: {INPAINT_RESAMPLE})",
    )
    _method_option(inp)
    sampling_options(
        inp,
        steps=INPAINT_STEPS,
        eta=None,
        sampler_note=" of the prior and of --method decoder; RePaint takes DDPM steps on its spacing",
    )
    inp.set_defaults(func=cmd_inpaint)

    op = sub.add_parser(
        "outpaint",
        help="extend a picture beyond its edges",
        description="Outpainting: add --pad pixels on the named sides and inpaint them. Writes "
        "OUT/outpaint-<seed>.png at the padded size.",
    )
    op.add_argument("image", help="the picture")
    op.add_argument(
        "--pad", required=True, help="pixels to add per side, e.g. left=16,right=16 (sides: left, right, top, bottom)"
    )
    op.add_argument("--prompt", default="", help="what to put there (default: none: more of the picture itself)")
    op.add_argument("-n", type=int, default=4, help=f"how many pictures, 1 to {MAX_PICTURES} (default: 4)")
    op.add_argument(
        "--resample",
        type=int,
        default=INPAINT_RESAMPLE,
        help=f"RePaint rounds per step, 1 to 20 (default: {INPAINT_RESAMPLE})",
    )
    _method_option(op)
    sampling_options(
        op,
        steps=INPAINT_STEPS,
        eta=None,
        sampler_note=" of the prior and of --method decoder; RePaint takes DDPM steps on its spacing",
    )
    op.set_defaults(func=cmd_outpaint)

    sv = sub.add_parser(
        "serve",
        help="an HTTP server with OpenAI's Images API and a history (127.0.0.1:8000)",
        description="Serve the models over HTTP: OpenAI's Images API (POST /v1/images/generations, "
        "/v1/images/edits, /v1/images/variations) and the job history (/api/jobs). One "
        "generation runs at a time by default; the history (SQLite) and pictures live "
        "under --data-dir and survive restarts. Binding to anything but loopback "
        "needs API keys (Authorization: Bearer KEY).",
    )
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    sv.add_argument(
        "--data-dir",
        default=_default_data_dir(),
        help="history database, pictures and uploads (default: $XDG_DATA_HOME/promptism or ~/.local/share/promptism)",
    )
    sv.add_argument(
        "--api-key",
        action="append",
        default=None,
        help="a key clients must send as 'Authorization: Bearer KEY' (repeat for several; also "
        "PROMPTISM_API_KEYS=k1,k2); required when --host is not loopback",
    )
    sv.add_argument(
        "--policy",
        default=None,
        help="prompt policy file: blocked terms and re:patterns, one per line (default: the shipped one)",
    )
    sv.add_argument("--max-queue", type=int, default=8, help="jobs that may wait; one more gets 429 (default: 8)")
    sv.add_argument("--concurrency", type=int, default=1, help="jobs run at once (default: 1)")
    sv.add_argument("--job-timeout", type=float, default=300.0, help="seconds a job may run (default: 300)")
    sv.add_argument("--max-upload-mb", type=int, default=4, help="largest uploaded picture in MB (default: 4)")
    sv.add_argument(
        "--clip",
        default=None,
        help="CLIP: 'world' (shipped), a model folder, or hf:<folder or hub id> "
        "(default: the one the prior was trained on)",
    )
    sv.add_argument("--prior", default="world", help="prior: a shipped name (world) or a model folder")
    sv.add_argument("--decoder", default="world", help="decoder: a shipped name (world) or a model folder")
    sv.add_argument("--upsamplers", nargs="*", default=["world-64"], help="upsamplers in order (default: world-64)")
    sv.add_argument(
        "--steps",
        type=int,
        default=None,
        help="decoder sampling steps of every job (default: the "
        "pipeline's: 50 to generate and inpaint, 20 for variations)",
    )
    sv.add_argument("--prior-steps", type=int, default=None, help="prior sampling steps of every job")
    sv.add_argument("--upsampler-steps", type=int, default=None, help="upsampler sampling steps of every job")
    sv.add_argument(
        "--rerank",
        type=int,
        default=None,
        help="candidates per picture of every generation and variation, the best kept by CLIP (default: "
        "3); 1 serves about three times as many pictures a minute",
    )
    sv.set_defaults(func=cmd_serve)

    em = sub.add_parser(
        "embed", help="compute the CLIP image and text embeddings of a dataset (for training the prior and decoder)"
    )
    em.add_argument(
        "--data",
        required=True,
        help="a Scene World dataset folder, .tar shards, or a folder of pictures with .txt captions",
    )
    em.add_argument("--out", required=True, help="the embeddings file to write (.safetensors)")
    em.add_argument("--clip", default="world", help="'world' (shipped), a model folder, or hf:<folder or hub id>")
    em.add_argument("--split", default="train", help="dataset split (default: train)")
    em.add_argument("--limit", type=int, default=None, help="only the first N pairs")
    em.add_argument("--quiet", action="store_true", help="no progress bars")
    em.set_defaults(func=cmd_embed)

    c = sub.add_parser("clip", help="score pictures against captions with a CLIP")
    cs = c.add_subparsers(dest="clip_command", metavar="CLIP_COMMAND")
    cs.required = True
    score = cs.add_parser("score", help="cosine similarity of one picture with each text, best first")
    score.add_argument("image", help="a picture file")
    score.add_argument("texts", nargs="+", help="one or more captions")
    score.add_argument("--model", default="world", help="'world' (shipped), a model folder, or hf:<folder or hub id>")
    score.set_defaults(func=cmd_clip_score)
    zs = cs.add_parser("zeroshot", help="zero-shot label probabilities for one picture")
    zs.add_argument("image", help="a picture file")
    zs.add_argument("--labels", nargs="+", required=True, help="the candidate labels")
    zs.add_argument(
        "--template", nargs="*", default=None, help="prompt templates with {} for the label, averaged (default: '{}')"
    )
    zs.add_argument("--model", default="world", help="'world' (shipped), a model folder, or hf:<folder or hub id>")
    zs.set_defaults(func=cmd_clip_zeroshot)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        set_threads(args.threads)
        return args.func(args)
    except (PromptismError, FileNotFoundError) as e:
        print(f"promptism: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("promptism: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
