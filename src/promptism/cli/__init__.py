"""The ``promptism`` command: one entry point, one module per command group, each building its
subparser beside its handlers.

Each subcommand imports what it needs when it runs, so ``promptism world ...`` starts without
loading torch.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import PromptismError
from . import clip, eval, gan, generate, guide, mini, responsible, serve, train, world
from .common import set_threads

__all__ = ["build_parser", "main", "set_threads"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promptism",
        description="Promptism: text-to-image (CLIP, unCLIP and the generators before them), trainable on your own data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""environment (docs/responsible.md):
  PROMPTISM_REAL_PEOPLE=allow   draw prompts that name real people (research use; refused by default)
  PROMPTISM_POLICY=FILE         a blocked-terms file instead of the shipped one
  PROMPTISM_GRID=world|FRA|52   the grid's carbon intensity: world average, a country, or g CO2e/kWh
  PROMPTISM_ENERGY=off          no energy measurement
  PROMPTISM_WATERMARK=off       no invisible watermark in written pictures
  PROMPTISM_C2PA=off            no C2PA manifest in written pictures
  PROMPTISM_C2PA_CERT, PROMPTISM_C2PA_KEY   your signing certificate chain and key (PEM)
  PROMPTISM_C2PA_DIR            where the local test signing identity lives (~/.config/promptism/c2pa)
  PROMPTISM_THREADS             CPU threads (as --threads)""",
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
    world.add_commands(sub)
    eval.add_commands(sub)
    train.add_commands(sub)
    generate.add_commands(sub)
    guide.add_commands(sub)
    mini.add_commands(sub)
    gan.add_commands(sub)
    serve.add_commands(sub)
    train.add_embed(sub)
    clip.add_commands(sub)
    responsible.add_commands(sub)
    responsible.add_report(sub)
    responsible.add_probe(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import warnings

    # a warning reads as one line of the command's, not as a source line of the library's
    warnings.formatwarning = lambda message, *_a, **_kw: f"promptism: warning: {message}\n"
    try:
        set_threads(args.threads)
        if getattr(args, "exclude", None) is not None:  # the training commands' opt-out list
            from ..data.consent import Consent, using_consent

            with using_consent(Consent.load(args.exclude)):
                code = args.func(args)
        else:
            code = args.func(args)
        from ..responsible.energy import closing_line

        line = closing_line()
        if line and code == 0:
            print(f"promptism: {line}", file=sys.stderr)
        return code
    except (PromptismError, FileNotFoundError) as e:
        print(f"promptism: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("promptism: interrupted", file=sys.stderr)
        return 130
