"""`promptism serve`: OpenAI's Images API, the studio and the history over HTTP."""

from __future__ import annotations

import argparse
import os

from .common import model_options, model_spec, torch_threads


def cmd_serve(args: argparse.Namespace) -> int:
    torch_threads()
    from ..pipelines.unclip import load_models
    from ..server.app import ServerConfig, serve

    spec = model_spec(args)
    load_models(**spec)  # models that do not fit together are refused here, before the server starts
    keys = tuple(args.api_key or ()) + tuple(k for k in os.environ.get("PROMPTISM_API_KEYS", "").split(",") if k)
    serve(
        ServerConfig(
            data_dir=args.data_dir,
            host=args.host,
            port=args.port,
            api_keys=keys,
            admin_keys=tuple(args.admin_key or ()),
            url_ttl_s=args.url_ttl,
            policy=args.policy,
            real_people=not args.allow_real_people,
            max_queue=args.max_queue,
            concurrency=args.concurrency,
            job_timeout_s=args.job_timeout,
            body_timeout_s=args.body_timeout,
            allowed_hosts=tuple(args.allowed_host or ()),
            cors_origins=tuple(args.cors_origin or ()),
            public_url=args.public_url,
            max_upload_bytes=args.max_upload_mb * 2**20,
            **spec,
            mini=args.mini,
            gan=args.gan,
            guide_steps=args.guide_steps,
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


def add_commands(sub) -> None:
    """The `commands` commands and their options."""
    from ..pipelines.settings import VARY_RERANK, Settings

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
        metavar="[USER:]KEY",
        help="a key clients must send as 'Authorization: Bearer KEY' (repeat for several; also "
        "PROMPTISM_API_KEYS=k1,k2); USER:KEY names its user, and each user sees only its own jobs and "
        "pictures; required when --host is not loopback",
    )
    sv.add_argument(
        "--admin-key",
        action="append",
        default=None,
        metavar="[USER:]KEY",
        help="a key whose user sees every user's jobs and pictures (repeat for several)",
    )
    sv.add_argument(
        "--url-ttl",
        type=float,
        default=3600.0,
        help="seconds a signed picture link (a url result, with keys on) keeps working (default: 3600)",
    )
    sv.add_argument(
        "--policy",
        default=None,
        help="prompt policy file: blocked terms and re:patterns, one per line (default: the shipped one)",
    )
    sv.add_argument(
        "--allow-real-people",
        action="store_true",
        help="draw prompts that name real people (research use; refused by default, and provenance records it)",
    )
    sv.add_argument("--max-queue", type=int, default=8, help="jobs that may wait; one more gets 429 (default: 8)")
    sv.add_argument("--concurrency", type=int, default=1, help="jobs run at once (default: 1)")
    sv.add_argument("--job-timeout", type=float, default=300.0, help="seconds a job may run (default: 300)")
    sv.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the next part of a request's body before answering 408 (default: 30)",
    )
    sv.add_argument("--max-upload-mb", type=int, default=4, help="largest uploaded picture in MB (default: 4)")
    sv.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name the server answers besides localhost, 127.0.0.1, ::1 and --host (repeat for more; "
        "'*' answers any): other names are refused, against DNS rebinding",
    )
    sv.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="another site whose pages may call the API, e.g. https://app.example (repeat for more; "
        "default: none, CORS off)",
    )
    sv.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the address result URLs are built on, e.g. https://pics.example (default: http://HOST:PORT; "
        "never the request's Host header)",
    )
    model_options(sv)
    sv.add_argument(
        "--mini",
        default="world",
        help="the model behind 'dalle-mini' (promptism mini): a shipped name or a model folder (default: world)",
    )
    sv.add_argument(
        "--gan",
        default="world",
        help="the GAN behind 'stylegan' and the studio's knobs: a shipped name or a model folder (default: world)",
    )
    sv.add_argument(
        "--steps",
        type=int,
        default=None,
        help="unCLIP's decoder sampling steps in every job (default: the "
        "pipeline's: 50 to generate and inpaint, 20 for variations)",
    )
    sv.add_argument("--prior-steps", type=int, default=None, help="prior sampling steps of every job")
    sv.add_argument(
        "--guide-steps",
        type=int,
        default=None,
        help="optimisation steps of every vqgan-clip and stylegan job that does not ask for its own "
        "(default: each generator's own in promptism guide); --steps does not reach them",
    )
    sv.add_argument(
        "--upsampler-steps",
        type=int,
        default=None,
        help="upsampler sampling steps of every job (default: each upsampler's own)",
    )
    sv.add_argument(
        "--rerank",
        type=int,
        default=None,
        help="candidates per picture of every generation and variation, the best kept by CLIP (default: "
        f"{Settings().rerank} for a generation, {VARY_RERANK} for a variation); 1 serves the most pictures a minute",
    )
    sv.set_defaults(func=cmd_serve)
