"""`promptism guide` (CLIP-guided optimisation) and `promptism dream` (DeepDream)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import PromptismError
from .common import torch_threads

AUGMENTATIONS = ("flip", "affine", "noise", "colour")  # promptism.guide.parametrize's, without torch
EXTRA_AUGMENTATIONS = ("blur",)  # offered, not on by default


def _checked_video(args) -> None:
    """--video writes a GIF, WebP or MP4 (MP4 with imageio-ffmpeg): checked before any work."""
    if args.video:
        from ..pipelines.provenance import check_video_path

        check_video_path(args.video)


def _save_frames(out: Path, seed: int, frames, meta: dict, video: str | None, ms: int) -> None:
    """The frames as OUT/frames/<seed>-<k>.png with provenance, and as the --video animation."""
    from ..pipelines.provenance import save_animation, save_png

    for k, frame in enumerate(frames):
        save_png(frame, out / "frames" / f"{seed}-{k:04d}.png", {**meta, "frame": k})
    if video:
        print(save_animation(frames, video, meta, ms, bounce=False))


def cmd_guide(args: argparse.Namespace) -> int:
    _checked_video(args)
    if args.video and not (args.save_every or args.zoom):
        raise PromptismError("--video is made of the saved frames: give --save-every N or --zoom FRAMES too")
    torch_threads()
    from ..guide import guide
    from .generate import _save_seeded

    result = guide(
        args.prompts,
        generator=args.generator,
        n=args.n,
        seed=args.seed,
        size=args.size,
        steps=args.steps,
        lr=args.lr,
        optimizer=args.optimizer,
        cutn=args.cutn,
        cut_pow=args.cut_pow,
        augment=tuple(args.augment),
        image_prompts=tuple(args.image_prompt or ()),
        init=args.init,
        init_weight=args.init_weight,
        init_noise=args.init_noise,
        tv=args.tv,
        contrast=args.contrast,
        prior=args.prior,
        mini=args.mini,
        canvas=args.canvas,
        canvas_candidates=args.canvas_candidates,
        canvas_pick=args.canvas_pick,
        stop_at=args.stop_at,
        keep_canvas=args.keep_canvas,
        keep_cosine=args.keep_cosine,
        recolour=args.recolour,
        recolour_rating=args.recolour_rating,
        clips=tuple(args.clip) if args.clip else None,
        save_every=args.save_every,
        keep_best=args.keep_best,
        progress=not args.quiet,
        vqgan=args.vqgan,
        gan=args.gan,
        zoom_frames=args.zoom,
        zoom=args.zoom_scale,
        zoom_steps=args.zoom_steps,
    )
    for i, (seed, frames, meta) in enumerate(zip(result.seeds, result.frames, result.metadata)):
        _save_frames(Path(args.out), seed, frames, meta, args.video if i == 0 else None, 80)  # GIF: the first picture's
    return _save_seeded(args, result, "")


def cmd_dream(args: argparse.Namespace) -> int:
    if args.list_layers:
        torch_threads()
        from ..clip import load
        from ..guide import list_layers

        print("\n".join(list_layers(load(args.clip))))
        return 0
    if args.picture is None:
        raise PromptismError("give the PICTURE to dream on (or --list-layers)")
    _checked_video(args)
    if args.video and not args.zoom:
        raise PromptismError("--video is the zoom video: give --zoom FRAMES too")
    torch_threads()
    from ..guide import dream
    from ..pipelines.provenance import save_png

    r = dream(
        args.picture,
        layer=args.layer,
        prompt=args.prompt,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        steps=args.steps,
        lr=args.lr,
        jitter=args.jitter,
        clip=args.clip,
        seed=args.seed,
        zoom_frames=args.zoom,
        progress=not args.quiet,
    )
    out = Path(args.out)
    print(save_png(r.image, out / f"dream-{args.seed}.png", r.metadata))
    if r.frames:
        _save_frames(out, args.seed, r.frames, r.metadata, args.video, 100)
    print(
        f"goal {r.metadata['goal_before']:.4f} -> {r.metadata['goal_after']:.4f} "
        f"({'cosine with the prompt' if args.prompt else 'mean squared activation of ' + args.layer})",
        file=sys.stderr,
    )
    return 0


def add_commands(sub) -> None:
    """The `guide` and `dream` commands and their options."""
    g = sub.add_parser(
        "guide",
        help="make pictures by optimising them until CLIP agrees with weighted prompts (VQGAN+CLIP's loop)",
        description="CLIP-guided generation: a picture's pixels or Fourier spectrum are changed step by step "
        "until CLIP's embeddings of random cutouts of it come near the prompts' (and far from those with "
        'negative weights). Example: promptism guide "a red star | a yellow star:-1" --generator fft',
    )
    g.add_argument("prompts", help="'|'-separated prompts, each TEXT[:WEIGHT]; negative weights push away")
    g.add_argument(
        "--generator",
        default="vqgan",
        help="what is optimised: vqgan (default: the codes of the shipped VQGAN, VQGAN+CLIP), fft (a Fourier "
        "spectrum: smooth pictures), pixels, or stylegan (the styles of the shipped GAN, per layer)",
    )
    g.add_argument("--vqgan", default="world", help="the VQGAN of --generator vqgan: a shipped name or a folder")
    g.add_argument("--gan", default="world", help="the GAN of --generator stylegan: a shipped name or a folder")
    g.add_argument("-n", type=int, default=1, help="how many pictures (default: 1)")
    g.add_argument(
        "--seed", type=int, default=0, help="seed of the first picture; picture i uses seed + i (default: 0)"
    )
    g.add_argument("--size", type=int, default=64, help="picture side in pixels, 32 to 256 (default: 64)")
    g.add_argument(
        "--steps", type=int, default=None, help="optimisation steps (default: 100 for vqgan, 200 for the others)"
    )
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: 0.05 for vqgan, 0.2 for fft, 0.05 for pixels, 0.03 for stylegan)",
    )
    g.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "sgd"), help="optimiser (default: adam)")
    g.add_argument("--cutn", type=int, default=16, help="random cutouts CLIP sees each step (default: 16)")
    g.add_argument(
        "--cut-pow", type=float, default=1.0, help="above 1 favours small cutouts, below 1 large (default: 1)"
    )
    g.add_argument(
        "--augment",
        nargs="*",
        default=list(AUGMENTATIONS),
        choices=AUGMENTATIONS + EXTRA_AUGMENTATIONS,
        help=f"augmentations of the cutouts (default: {', '.join(AUGMENTATIONS)}; also blur; give none for none)",
    )
    g.add_argument(
        "--tv",
        type=float,
        default=0.0,
        help="weight of the picture's total variation in the loss: smooths away noise and thin strokes (default: 0)",
    )
    g.add_argument(
        "--contrast",
        type=float,
        default=0.0,
        help="weight of a loss that asks CLIP to pick each prompt out of its contrast captions (the prompt "
        "with one colour, shape, number, relation or background changed) (default: 0, off)",
    )
    g.add_argument(
        "--prior",
        type=float,
        default=0.0,
        help="weight of the code prior (--generator vqgan): the --mini model's transformer, reading an empty "
        "caption, pulls each place towards the codes a Scene World picture would hold there (default: 0, off)",
    )
    g.add_argument(
        "--canvas",
        default=None,
        choices=("gray", "prior", "prompt"),
        help="where --generator vqgan starts without --init: prompt (default: a Scene World picture whose codes "
        "the --mini model's transformer draws from the seed reading the positive prompts, with the negative ones "
        "as its guidance's empty caption, at promptism mini's default sampling settings), prior (the same, but "
        "the transformer reads no prompt) or gray (a gray canvas)",
    )
    g.add_argument(
        "--canvas-candidates",
        type=int,
        default=64,
        help="with --canvas prior or prompt: draw this many starting pictures (1 to 256) and start from the one CLIP likes "
        "best by --canvas-pick (default: 64)",
    )
    g.add_argument(
        "--canvas-pick",
        default=None,
        choices=("cosine", "contrast"),
        help="with --canvas prior or prompt: CLIP's score for that choice, cosine (the default: the cosine with the "
        "prompts) or contrast (how likely CLIP finds each prompt among its contrast captions, one colour, shape, "
        "number, place or background changed)",
    )
    g.add_argument(
        "--stop-at",
        type=float,
        default=0.0,
        metavar="P",
        help="end the steps early once CLIP finds the prompts at least this likely (0 to below 1) among their "
        "contrast captions; the sidecar records steps_taken (default: 0, never; prompts naming nothing of the "
        "Scene World's vocabulary never stop)",
    )
    g.add_argument(
        "--keep-canvas",
        type=float,
        default=None,
        metavar="P",
        help="with --canvas prior or prompt: take no step from the kept canvas if CLIP finds the prompts at least this "
        "likely (0 to below 1) among their contrast captions on it, and return it as drawn; the sidecar records "
        "canvas_kept (default: 0.9 on a drawn canvas; 0 turns it off)",
    )
    g.add_argument(
        "--keep-cosine",
        type=float,
        default=None,
        metavar="C",
        help="with --keep-canvas: keep a canvas only if CLIP's cosine score with the prompts is at least C too "
        "(a picture like none of the contrast captions can still make the prompt the likeliest among them; "
        "0 or below turns it off; default: 0)",
    )
    g.add_argument(
        "--recolour",
        type=int,
        default=None,
        metavar="K",
        help="with --canvas prior or prompt: when the picked canvas is not kept, recolour the K canvases --canvas-pick rates "
        "best, region by region, each region to the colour (of those the drawn canvases hold) on which CLIP finds "
        "the prompts likeliest among their contrast captions, and start from the best, kept by --keep-canvas as a "
        "drawn canvas is; the sidecar records canvas_recoloured (default: 4 on a drawn canvas; 0 turns it off)",
    )
    g.add_argument(
        "--recolour-rating",
        default="all",
        choices=("all", "colours"),
        help="which contrast captions rate a recolouring: all (the default) or colours (only those that change a "
        "colour or the background; a prompt with none is not recoloured); all of them still decide whether the "
        "recoloured canvas is kept",
    )
    g.add_argument(
        "--mini",
        default="world",
        help="the mini model of --prior and --canvas prior or prompt: a shipped name or a folder",
    )
    g.add_argument(
        "--image-prompt",
        action="append",
        metavar="PICTURE[:WEIGHT]",
        help="a picture whose CLIP embedding is a prompt too (repeatable)",
    )
    g.add_argument("--init", default=None, metavar="PICTURE", help="start from this picture instead of noise")
    g.add_argument(
        "--init-weight", type=float, default=0.0, help="how strongly the result is held to --init (default: 0)"
    )
    g.add_argument(
        "--init-noise",
        type=float,
        default=None,
        help="scale of the starting noise (default: 0 on a canvas the prior drew, 1 otherwise)",
    )
    g.add_argument(
        "--clip",
        action="append",
        help="CLIP to guide with: a shipped name (world, world-v1, world-bind2), a model folder or hf:<id>; repeat "
        "for an ensemble (default: world-v1 for vqgan, world for the others)",
    )
    g.add_argument(
        "--save-every", type=int, default=0, help="keep a frame every N steps in OUT/frames (default: 0, none)"
    )
    g.add_argument(
        "--video",
        default=None,
        metavar="FILE",
        help="the first picture's frames as a video: .gif, .webp, or .mp4 (with pip install 'promptism[video]')",
    )
    g.add_argument("--keep-best", action="store_true", help="keep the step CLIP scored highest, not the last")
    g.add_argument(
        "--zoom",
        type=int,
        default=0,
        metavar="FRAMES",
        help="after each picture, make a zoom video of this many frames: each the last one enlarged and "
        "optimised again (frames in OUT/frames; --video for the first picture's)",
    )
    g.add_argument("--zoom-scale", type=float, default=1.05, help="enlargement per zoom frame, 1 to 2 (default: 1.05)")
    g.add_argument("--zoom-steps", type=int, default=20, help="optimisation steps per zoom frame (default: 20)")
    g.add_argument("--out", default="out", help="folder for the pictures (default: out)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_guide)

    d = sub.add_parser(
        "dream",
        help="DeepDream: change a picture to excite a layer of CLIP's image tower, or towards a caption",
    )
    d.add_argument("picture", nargs="?", help="the picture to dream on")
    d.add_argument("--layer", default="body.2", help="the layer to excite (default: body.2; see --list-layers)")
    d.add_argument("--list-layers", action="store_true", help="print the layers of the CLIP's image tower")
    d.add_argument("--prompt", default=None, help="dream towards this caption (CLIP's cosine) instead of a layer")
    d.add_argument("--octaves", type=int, default=3, help="scales dreamt at, smallest first (default: 3)")
    d.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (default: 1.4)")
    d.add_argument("--steps", type=int, default=10, help="gradient steps per octave (default: 10)")
    d.add_argument(
        "--lr",
        type=float,
        default=None,
        help="step size of a normalised gradient step (default: 0.005 for a layer, 0.003 for a prompt)",
    )
    d.add_argument(
        "--jitter",
        type=int,
        default=None,
        help="random shift in pixels before each step (default: 2 for a layer, 0 for a prompt)",
    )
    d.add_argument("--zoom", type=int, default=0, metavar="FRAMES", help="make a zoom video of this many frames")
    d.add_argument(
        "--video",
        default=None,
        metavar="FILE",
        help="the zoom frames as a video: .gif, .webp, or .mp4 (with pip install 'promptism[video]')",
    )
    d.add_argument(
        "--clip", default="world", help="whose image tower: a shipped name or a model folder (default: world)"
    )
    d.add_argument("--seed", type=int, default=0, help="seed of the jitter (default: 0)")
    d.add_argument("--out", default="out", help="folder for the picture (default: out)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_dream)
