"""Typed configs whose fields carry their own help: a training task's knobs are declared once, as
the fields of a frozen dataclass, and the CLI's options, the presets' ``task`` tables, recipe files
and the saved ``config.json`` are all read off them.

    @dataclass(frozen=True)
    class MyTaskConfig:
        weight: float = knob(0.0, "weight of my loss term")
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, field, fields


def knob(default, help: str, parse=float, metavar: str | None = None, flag: str | None = None):
    """A config field: its default, the CLI's help text and how the CLI parses it (``flag`` names a
    switch that sets the opposite of a boolean default)."""
    return field(default=default, metadata={"help": help, "parse": parse, "metavar": metavar, "flag": flag})


def share(text) -> float:
    """A number from 0 to 1."""
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{text!r}: expected a number between 0 and 1")
    return v


def _argument_type(parse):
    """A field's parser as argparse wants it: its error message shown as the reason."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e) or f"{text!r}: not a valid value") from None

    convert.__name__ = parse.__name__.strip("_")
    return convert


def add_options(parser: argparse.ArgumentParser, config_cls) -> None:
    """One option per field of ``config_cls``, named, typed and explained by the field itself; each
    defaults to None, which keeps the preset's value."""
    for f in fields(config_cls):
        meta = f.metadata
        default = "" if f.default in (MISSING, None) else f" (default: the preset's, else {f.default})"
        if meta["flag"]:  # a switch that sets the opposite of the default
            parser.add_argument(
                meta["flag"], dest=f.name, action="store_const", const=not f.default, default=None, help=meta["help"]
            )
            continue
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_argument_type(meta["parse"]),
            default=None,
            metavar=meta["metavar"],
            help=meta["help"] + default,
        )


def given(args: argparse.Namespace, config_cls) -> dict:
    """The fields of ``config_cls`` the command line set."""
    return {f.name: getattr(args, f.name) for f in fields(config_cls) if getattr(args, f.name, None) is not None}


def describe(config_cls, saved: dict, always: tuple[str, ...] = ()) -> str:
    """The fields a model's config.json records that differ from their defaults (and ``always``),
    as "name value" phrases for a model card."""
    parts = []
    for f in fields(config_cls):
        if f.name not in saved:
            continue
        value = saved[f.name]
        if isinstance(value, list):
            value = tuple(value)
        if f.name in always or value != f.default:
            parts.append(f"{f.name} {', '.join(value) if isinstance(value, tuple) else value}")
    return "; ".join(parts)
