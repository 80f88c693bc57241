"""The unCLIP picture commands: generate, vary, interpolate, edit, inpaint, outpaint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import PromptismError
from .common import model_options, model_spec, torch_threads


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
        "guidance_interval",
        "eta",
        "rerank",
        "rerank_clip",
        "rerank_step",
    )
    kw = {k: tuple(v) if isinstance(v, list) else v for k in names if (v := getattr(args, k, None)) is not None}
    if kw.get("rerank_step") == 0:  # --rerank-step 0: rank the finished pictures
        kw["rerank_step"] = None
    return kw


def _run_pipeline(args: argparse.Namespace, fn, *a, **kw):
    """Load the models named by the options, run fn with them, print each warning once."""
    torch_threads()
    import warnings

    from ..pipelines.unclip import load_models

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = load_models(**model_spec(args))
        result = fn(*a, models=models, progress=not args.quiet, **kw, **_settings_kwargs(args))
    for message in dict.fromkeys(str(w.message) for w in caught):  # once each, in order
        print(f"promptism: warning: {message}", file=sys.stderr)
    return result


def _write(result, out: Path, names: list[str], sheet: str | None, cols: int | None = None) -> list[Path]:
    """Each picture as OUT/<name>.png (+ .json), and a contact sheet of them all."""
    from ..pipelines.provenance import grid, save_png

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


def _save_seeded(args: argparse.Namespace, result, prefix: str) -> int:
    """Each picture as OUT/<prefix><seed>.png (+ .json), and a grid OUT/<prefix>grid-<first seed>-<n>.png."""
    names = [f"{prefix}{sd}" for sd in result.seeds]
    return _done(_write(result, Path(args.out), names, f"{prefix}grid-{result.seeds[0]}-{len(result.seeds)}"))


def _done(paths: list[Path]) -> int:
    for path in paths:
        print(path)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from ..pipelines.settings import IMG2IMG_STRENGTH
    from ..pipelines.unclip import generate

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
    return _save_seeded(args, result, "")


def cmd_vary(args: argparse.Namespace) -> int:
    from ..pipelines.edit import vary

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
    return _save_seeded(args, result, "vary-")


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
    from ..pipelines.edit import interpolate
    from ..pipelines.provenance import save_animation

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
    from ..pipelines.edit import text_diff

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
    from ..pipelines.settings import INPAINT_METHOD, INPAINT_METHODS

    p.add_argument(
        "--method",
        choices=INPAINT_METHODS,
        default=INPAINT_METHOD,
        help="how the decoder inpaints: 'repaint' training-free RePaint with any decoder (2.5-3.6x "
        "slower by run, and with the shipped decoder far more often right), 'decoder' through its "
        "inpainting channels (GLIDE-style; the shipped decoder has them), 'auto' the channels "
        f"where the decoder has them (default: {INPAINT_METHOD})",
    )


def _paint(args: argparse.Namespace, fn, *where) -> int:
    """Inpaint or outpaint: ``where`` is the mask, or the padding."""
    result = _run_pipeline(
        args,
        fn,
        args.image,
        *where,
        args.prompt or "",
        n=args.n,
        seed=args.seed,
        size=args.size,
        resample=args.resample,
        method=args.method,
    )
    return _save_seeded(args, result, f"{fn.__name__}-")


def cmd_inpaint(args: argparse.Namespace) -> int:
    from ..pipelines.edit import inpaint

    return _paint(args, inpaint, args.mask)


def cmd_outpaint(args: argparse.Namespace) -> int:
    from ..pipelines.edit import outpaint, parse_pad

    return _paint(args, outpaint, parse_pad(args.pad))


_DEFAULT = object()  # an option default the pipeline's Settings gives


def _rerank_options(
    q: argparse.ArgumentParser, against: str, cost: str, early: bool = False, default: int | None = None
) -> None:
    from ..pipelines.settings import MAX_RERANK, Settings

    dflt = Settings()
    q.add_argument(
        "--rerank",
        type=int,
        default=None,
        metavar="K",
        help=f"draw K candidates of each picture and keep the one the reranking CLIP scores highest "
        f"{against}, 1 to {MAX_RERANK}; about K times {cost} time; 1 draws one "
        f"(default: {default or dflt.rerank})",
    )
    q.add_argument(
        "--rerank-clip",
        default=None,
        metavar="CLIP",
        help="the CLIP that reranks: a shipped name, a model folder or hf:<folder or hub id> "
        f"(default: {dflt.rerank_clip}, the shipped CLIP that binds colours to shapes)",
    )
    if early:
        q.add_argument(
            "--rerank-step",
            type=int,
            default=None,
            metavar="K",
            help="rank the candidates on the decoder's estimate of each finished picture after K of its "
            "steps and draw only the kept ones on from there, which spares the rest of the decoder's and "
            "the upsamplers' time for the others; 0 ranks the finished pictures (default: "
            + ("0" if dflt.rerank_step is None else str(dflt.rerank_step))
            + ")",
        )


def _sampling_options(
    q: argparse.ArgumentParser,
    steps: int | None = None,
    prior: bool = True,
    eta: float | None | object = _DEFAULT,
    sampler_note: str = "",
    sampler: str | None = None,
    init: bool = False,
) -> None:
    """The options every unCLIP picture command shares; ``steps``, ``eta`` and ``sampler`` are the
    command's defaults (the pipeline's when not given; ``eta`` None: the command has no --eta).
    ``init``: generate's, whose --init (img2img) takes the edits' sampler and IMG2IMG_STEPS."""
    from ..pipelines.settings import EDIT_SAMPLER, IMG2IMG_STEPS, SAMPLER_NAMES, Settings

    dflt = Settings()
    steps = dflt.steps if steps is None else steps
    eta = dflt.eta if eta is _DEFAULT else eta
    sampler_default, steps_default = sampler or dflt.sampler, steps
    if init:  # generate's --init (img2img) takes the edits' sampler and its own steps
        sampler_default += f"; {EDIT_SAMPLER} with --init"
        steps_default = f"{steps}; {IMG2IMG_STEPS} with --init"
    q.add_argument(
        "--seed", type=int, default=0, help="seed of the first picture; picture i uses seed + i (default: 0)"
    )
    q.add_argument("--out", default="out", help="folder for the pictures (default: out)")
    q.add_argument(
        "--size",
        type=int,
        default=None,
        help="picture side in pixels: one the models make, the decoder's or an upsampler's (the shipped "
        "models: 32, 64 or 128). Default: the largest the models draw unasked, which stops before an upsampler "
        "marked to run only when asked (the shipped 64->128 one: 64 px)",
    )
    q.add_argument(
        "--sampler",
        default=None,
        choices=list(SAMPLER_NAMES),
        help=f"sampler{sampler_note} (default: {sampler_default})",
    )
    q.add_argument("--steps", type=int, default=None, help=f"decoder sampling steps (default: {steps_default})")
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
        help="sampling steps of every upsampler (default: each its own, as its config.json says: 8 for the shipped "
        "world-64, 2 for world-128)",
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
    q.add_argument(
        "--guidance-interval",
        type=int,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="apply the decoder's guidance only at its timesteps LO to HI (0-999, 999 the noisiest); the steps "
        "outside run the decoder once instead of twice; 0 999 guides every step (default: "
        + ("every step" if dflt.guidance_interval is None else " ".join(map(str, dflt.guidance_interval)))
        + ")",
    )
    if eta is not None:
        q.add_argument(
            "--eta", type=float, default=None, help=f"DDIM noise: 0 deterministic, 1 ancestral (default: {eta:g})"
        )
    model_options(q)
    q.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_generate(sub) -> None:
    from ..pipelines.settings import (
        IMG2IMG_STRENGTH,
        MAX_PICTURES,
    )

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
    _rerank_options(g, "against the prompt (less the negative prompt)", "the prior's and decoder's", early=True)
    _sampling_options(g, init=True)
    g.set_defaults(func=cmd_generate)


def _add_vary(sub) -> None:
    from ..pipelines.settings import EDIT_SAMPLER, INVERSION_STEPS, MAX_PICTURES, VARY_ETA, VARY_RERANK

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
    _rerank_options(v, "against the source picture", "the decoder's", default=VARY_RERANK)
    _sampling_options(
        v,
        steps=INVERSION_STEPS,
        prior=False,
        eta=VARY_ETA,
        sampler_note=" of the upsamplers, and of the decoder with --no-invert "
        "(an inverted picture is sampled back with DDIM)",
        sampler=EDIT_SAMPLER,
    )
    v.set_defaults(func=cmd_vary)


def _add_interpolate(sub) -> None:
    from ..pipelines.settings import EDIT_SAMPLER, INVERSION_STEPS, MAX_FRAMES

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
    _sampling_options(
        ip,
        steps=INVERSION_STEPS,
        eta=None,
        sampler_note=" of the prior and upsamplers (the decoder uses DDIM)",
        sampler=EDIT_SAMPLER,
    )
    ip.set_defaults(func=cmd_interpolate)


def _add_edit(sub) -> None:
    from ..pipelines.settings import EDIT_SAMPLER, INVERSION_STEPS, TEXT_DIFF_AMOUNT

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
    _sampling_options(
        ed,
        steps=INVERSION_STEPS,
        prior=False,
        eta=None,
        sampler_note=" of the upsamplers (the decoder uses DDIM)",
        sampler=EDIT_SAMPLER,
    )
    ed.set_defaults(func=cmd_edit)


def _add_inpaint(sub) -> None:
    from ..pipelines.settings import EDIT_SAMPLER, INPAINT_RESAMPLE, INPAINT_STEPS, MAX_PICTURES

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
    _sampling_options(
        inp,
        steps=INPAINT_STEPS,
        eta=None,
        sampler_note=" of the prior and of --method decoder; RePaint takes DDPM steps on its spacing",
        sampler=EDIT_SAMPLER,
    )
    inp.set_defaults(func=cmd_inpaint)


def _add_outpaint(sub) -> None:
    from ..pipelines.settings import EDIT_SAMPLER, INPAINT_RESAMPLE, INPAINT_STEPS, MAX_PICTURES

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
    _sampling_options(
        op,
        steps=INPAINT_STEPS,
        eta=None,
        sampler_note=" of the prior and of --method decoder; RePaint takes DDPM steps on its spacing",
        sampler=EDIT_SAMPLER,
    )
    op.set_defaults(func=cmd_outpaint)


def add_commands(sub) -> None:
    """The unCLIP picture commands and their options."""
    _add_generate(sub)
    _add_vary(sub)
    _add_interpolate(sub)
    _add_edit(sub)
    _add_inpaint(sub)
    _add_outpaint(sub)
