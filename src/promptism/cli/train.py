"""`promptism train` (CLIP and the unCLIP stages) and `promptism embed`."""

from __future__ import annotations

import argparse

from ..knobs import add_options, given
from .common import torch_threads


def _loop_overrides(args: argparse.Namespace) -> dict:
    return dict(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        ema=args.ema,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
    )


def cmd_train_clip(args: argparse.Namespace) -> int:
    from ..recipes import resolve

    name, settings = resolve("clip", args.preset, args.config, "world")
    torch_threads()
    from ..clip.task_config import ClipTaskConfig
    from ..clip.train import train_clip

    task = given(args, ClipTaskConfig)
    folder = train_clip(
        args.data,
        args.out,
        name,
        task=task,
        settings=settings,
        limit=args.limit,
        progress=not args.quiet,
        crop=args.crop,
        init=args.init,
        **_loop_overrides(args),
    )
    print(f"model written to {folder} (load it with promptism.clip.load({str(folder)!r}))")
    return 0


def cmd_train_stage(args: argparse.Namespace) -> int:
    from ..recipes import resolve

    name, settings = resolve(args.kind, args.preset, args.config, "world-64" if args.kind == "upsampler" else "world")
    torch_threads()
    from ..unclip.task_config import DecoderTaskConfig
    from ..unclip.training import train_stage

    folder = train_stage(
        args.kind,
        args.data,
        args.out,
        name,
        settings=settings,
        task=given(args, DecoderTaskConfig) if args.kind == "decoder" else None,
        embeddings=getattr(args, "embeddings", None),
        clip_name=getattr(args, "clip", "world"),
        limit=args.limit,
        progress=not args.quiet,
        init=args.init,
        crop=args.crop,
        **_loop_overrides(args),
    )
    print(f"model written to {folder}")
    return 0


def _train_family(args: argparse.Namespace, kind: str, default: str, hint: str, **extra) -> int:
    """`promptism train vqgan | mini | gan`: a preset or recipe through the family's train function
    (``promptism.<kind>.training.train_<kind>``)."""
    import importlib

    from ..recipes import resolve

    name, settings = resolve(kind, args.preset, args.config, default)
    torch_threads()
    train_fn = getattr(importlib.import_module(f"promptism.{kind}.training"), f"train_{kind}")
    folder = train_fn(
        args.data,
        args.out,
        name,
        settings=settings,
        limit=args.limit,
        progress=not args.quiet,
        crop=args.crop,
        **extra,
        **_loop_overrides(args),
    )
    print(f"model written to {folder} ({hint.format(folder=str(folder))})")
    return 0


def cmd_train_vqgan(args: argparse.Namespace) -> int:
    return _train_family(args, "vqgan", "world-f4", "load it with promptism.vqgan.load({folder!r})")


def cmd_train_mini(args: argparse.Namespace) -> int:
    return _train_family(
        args, "mini", "world", "draw with: promptism mini PROMPT --model {folder}", vqgan=args.vqgan, init=args.init
    )


def cmd_train_layout(args: argparse.Namespace) -> int:
    return _train_family(
        args, "layout", "world", "a decoder reads its layouts with: promptism train decoder ... --layout {folder}"
    )


def cmd_train_gan(args: argparse.Namespace) -> int:
    return _train_family(args, "gan", "world", "draw with: promptism gan sample --model {folder}")


def cmd_train_distill(args: argparse.Namespace) -> int:
    from ..recipes import resolve

    name, settings = resolve("distill", args.preset, args.config, "default")
    torch_threads()
    from ..unclip.distill import train_distill

    folder = train_distill(
        args.data,
        args.out,
        name,
        teacher=args.teacher,
        settings=settings,
        embeddings=args.embeddings,
        limit=args.limit,
        progress=not args.quiet,
        crop=args.crop,
        **_loop_overrides(args),
    )
    print(f"model written to {folder} (the next round: --teacher {folder})")
    return 0


def cmd_train_unclip(args: argparse.Namespace) -> int:
    from ..recipes import resolve

    name, settings = resolve("unclip", args.preset, args.config, "base")
    torch_threads()
    from ..unclip.stack import train_unclip

    train_unclip(
        args.data,
        args.out,
        name,
        settings=settings,
        size=args.size,
        clip=args.clip,
        limit=args.limit,
        progress=not args.quiet,
        crop=args.crop,
    )
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    torch_threads()
    from ..unclip.embeddings import embed_dataset

    out = embed_dataset(
        args.data, args.out, args.clip, args.split, limit=args.limit, progress=not args.quiet, crop=args.crop
    )
    print(f"embeddings written to {out}")
    return 0


DATA_HELP = (
    "a Scene World dataset folder, .tar shards (a brace or glob pattern, or a folder of them as img2dataset "
    "writes), or a folder of pictures with .txt captions (searched through its subfolders)"
)


def _crop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--crop",
        default="center",
        choices=("center", "random"),
        help="how a picture that is not square is cut to one after scaling its shorter side: at the centre "
        "(default) or at a place drawn from its name",
    )


def _training_options(
    parser: argparse.ArgumentParser,
    presets: str,
    loop: bool = True,
    out_help: str = "run folder: checkpoint, TensorBoard logs, and the final model in OUT/model",
) -> None:
    """The options every `promptism train` subcommand shares."""
    parser.add_argument("--data", required=True, help=DATA_HELP)
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--preset", default=None, help=f"model and schedule preset: {presets}")
    parser.add_argument(
        "--exclude",
        default=None,
        metavar="FILE",
        help="opt-outs to honour: creators' names, URLs (a prefix excludes what is under it) or sha256 "
        "content hashes, one per line; samples marked noai/noimageai are always dropped (docs/responsible.md)",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="a recipe file instead of a preset: a base preset and its overrides (experiments/ holds the recipes tried)",
    )
    if loop:
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
    _crop_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_commands(sub) -> None:
    """The `commands` commands and their options."""
    t = sub.add_parser("train", help="train a model (resumes from OUT/checkpoint when there is one)")
    ts = t.add_subparsers(dest="train_command", metavar="MODEL")
    ts.required = True
    tc = ts.add_parser("clip", help="train a CLIP on image-caption data")
    _training_options(
        tc,
        "world (default; clip-world-v1's plain contrastive recipe), world-bind2 (the reranking CLIP's), "
        "world-bind21 (the shipped clip-world: binds colours, shapes, counts and places), or tiny (tests)",
    )
    tc.add_argument(
        "--init",
        default=None,
        help="fine-tune: start from this model folder or shipped CLIP name, e.g. world (the preset's "
        "architecture; its tokenizer is kept), instead of random weights",
    )
    from ..clip.task_config import ClipTaskConfig

    add_options(tc, ClipTaskConfig)
    tc.set_defaults(func=cmd_train_clip)
    for kind, presets, what in (
        (
            "decoder",
            "world (default), then with --init the phases of the shipped decoder: world-ft, world-ft2, "
            "world-inpaint (adds the inpainting channels), world-more-ln and world-more-ln2 (timesteps drawn "
            "logit-normally), world-boxes (adds the layout channels; with --layout FOLDER); or tiny, tiny-inpaint",
            "the unCLIP decoder: CLIP image embedding + caption (+ layout) -> 32 px picture",
        ),
        ("prior", "world (default) or tiny", "the unCLIP diffusion prior: caption -> CLIP image embedding"),
        (
            "upsampler",
            "world-64 (32->64 px), the residual world-64-res and world-64-res-more (continues it, with "
            "--init) that ship, world-128 (64->128 px, ships; data rendered at 128 px), or tiny, tiny-res",
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
        if kind == "decoder":
            from ..unclip.task_config import DecoderTaskConfig

            add_options(st, DecoderTaskConfig)
        st.set_defaults(func=cmd_train_stage, kind=kind)
    vq = ts.add_parser("vqgan", help="train a VQGAN: pictures to a grid of codes and back (for guide and DALL·E mini)")
    _training_options(vq, "world-f4 (default, vqgan-world's: 64 px to 16x16 codes) or tiny (tests)")
    vq.set_defaults(func=cmd_train_vqgan)
    mi = ts.add_parser(
        "mini",
        help="train DALL·E mini's transformer over a VQGAN's codes (the pictures are encoded once, into OUT/codes)",
    )
    _training_options(
        mi,
        "world (default: mini-world's first phase), then with --init its later phases world-more, world-third "
        "and world-fourth; or tiny (tests)",
    )
    mi.add_argument(
        "--vqgan", default="world", help="the VQGAN whose codes it writes: a shipped name or a model folder (world)"
    )
    mi.add_argument(
        "--init",
        default=None,
        help="fine-tune: start from this model folder or shipped model name, e.g. world (same architecture "
        "and VQGAN as the preset; its tokenizer is kept), instead of random weights",
    )
    mi.set_defaults(func=cmd_train_mini)
    la = ts.add_parser(
        "layout",
        help="train a layout stage: caption -> each object's colour, shape, size and place (for a decoder that "
        "draws from layouts; the pictures' records must hold their scenes, as the Scene World's do)",
    )
    _training_options(la, "world (default) or tiny (tests)")
    la.set_defaults(func=cmd_train_layout)
    ga = ts.add_parser(
        "gan",
        help="train a StyleGAN2-style GAN on the pictures (captions unused); sample grids go to OUT/samples",
    )
    _training_options(ga, "world (default, gan-world's: 64 px) or tiny (tests)")
    ga.set_defaults(func=cmd_train_gan)
    di = ts.add_parser(
        "distill",
        help="one round of progressive distillation of the decoder: a student that samples in half the "
        "teacher's DDIM steps, guidance folded in (docs/unclip.md)",
    )
    _training_options(di, "default (the first round's teacher samples 64 DDIM steps guided at 3) or tiny (tests)")
    di.add_argument(
        "--teacher",
        default="world",
        help="the decoder to distil: a shipped name (world), a model folder, or the student of an earlier round",
    )
    di.add_argument(
        "--embeddings",
        default=None,
        help="CLIP embeddings of the training pairs from `promptism embed`, of the teacher's CLIP "
        "(default: computed and kept in OUT/embeddings.safetensors)",
    )
    di.set_defaults(func=cmd_train_distill)
    un = ts.add_parser(
        "unclip",
        help="train a whole unCLIP stack in one go: CLIP, embeddings, prior, decoder, upsamplers "
        "(rerun to resume; generate with --models OUT)",
    )
    _training_options(
        un,
        "base (default: the shipped models' first recipes, sized for a CPU), gpu (one GPU), gpu8 (eight), "
        "or tiny (tests)",
        loop=False,
        out_help="run folder: one subfolder per stage, and stack.json naming them (the models of --models OUT)",
    )
    un.add_argument(
        "--size",
        type=int,
        default=None,
        help="picture side of the finished stack: the decoder's size doubled by one upsampler per doubling, "
        "e.g. 64, 128, 256 with a 32 px decoder (default: the preset's)",
    )
    un.add_argument(
        "--clip",
        default=None,
        help="reuse this CLIP (a shipped name or a model folder) instead of training one on the data",
    )
    un.set_defaults(func=cmd_train_unclip)


def add_embed(sub) -> None:
    """The `embed` commands and their options."""
    em = sub.add_parser(
        "embed", help="compute the CLIP image and text embeddings of a dataset (for training the prior and decoder)"
    )
    em.add_argument("--data", required=True, help=DATA_HELP)
    em.add_argument("--out", required=True, help="the embeddings file to write (.safetensors)")
    em.add_argument("--clip", default="world", help="'world' (shipped), a model folder, or hf:<folder or hub id>")
    em.add_argument("--split", default="train", help="dataset split (default: train)")
    em.add_argument("--limit", type=int, default=None, help="only the first N pairs")
    _crop_option(em)
    em.add_argument("--quiet", action="store_true", help="no progress bars")
    em.set_defaults(func=cmd_embed)
