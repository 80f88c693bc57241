"""The server's configuration and the constants of its API."""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field

from ..errors import PromptismError
from ..pipelines.settings import SHIPPED_UPSAMPLERS

log = logging.getLogger("promptism.server")

MODEL_ID = "promptism-unclip-world"
MODEL_ALIASES = (MODEL_ID, "dall-e-2", "unclip")
UPSCALED_SIZES = (256, 512, 1024)
GUIDED_ID = "vqgan-clip"  # CLIP-guided generation with the shipped VQGAN (promptism guide), generations only
GUIDED_SIZES = (64, 128, 256)  # drawn at these sides; larger ones are the 256 px picture upscaled
MINI_ID = "dalle-mini"  # DALL·E mini's transformer over VQGAN codes, CLIP-reranked (promptism mini), generations only
MINI_SIZES = (64,)  # the VQGAN's side; larger ones are upscaled
GAN_ID = "stylegan"  # the GAN's styles optimised until CLIP agrees with the prompt (guide --generator stylegan)
GAN_SIZES = (64,)  # the GAN's side; larger ones are upscaled
# the models that only make new pictures: id -> (name in the studio, sides drawn)
GENERATIONS_ONLY = {
    GUIDED_ID: ("VQGAN+CLIP (guided)", GUIDED_SIZES),
    MINI_ID: ("DALL·E mini (reranked)", MINI_SIZES),
    GAN_ID: ("StyleGAN+CLIP (guided)", GAN_SIZES),
}
MAX_N = 10  # as OpenAI's dall-e-2
MAX_JSON_BYTES = 2**20  # a studio edit carries its mask as base64 PNG
SAFE_FILE = re.compile(r"^[0-9a-f]{16}-\d{1,2}\.png$")


@dataclass
class ServerConfig:
    data_dir: str
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()  # "KEY" or "USER:KEY": each user sees only its own jobs
    admin_keys: tuple[str, ...] = ()  # the same, for users who see every job
    url_ttl_s: float = 3600.0  # how long a signed picture link works
    policy: str | None = None  # a blocked-terms file (None: the shipped one)
    real_people: bool = True  # refuse prompts naming real people (False: research use, recorded)
    max_queue: int = 8
    concurrency: int = 1
    job_timeout_s: float = 300.0
    body_timeout_s: float = 30.0  # the longest wait for the next part of a request's body
    allowed_hosts: tuple[str, ...] = ()  # Host names answered beyond the loopback ones ("*": any)
    cors_origins: tuple[str, ...] = ()  # other sites' origins whose pages may call the API
    public_url: str | None = None  # the address result URLs are built on (default: host and port)
    max_upload_bytes: int = 4 * 2**20  # OpenAI: images under 4 MB
    max_upload_pixels: int = 4096 * 4096
    clip: str | None = None  # None: the CLIP the prior was trained on
    prior: str = "world"
    decoder: str = "world"
    upsamplers: tuple[str, ...] = SHIPPED_UPSAMPLERS
    fast: str | None = None  # a distilled student of the decoder (promptism train distill), or none
    mini: str = "world"  # the dalle-mini model: a shipped name or a model folder
    gan: str = "world"  # the stylegan model and the studio's knobs: a shipped name or a model folder
    defaults: dict = field(default_factory=dict)  # Settings fields every job uses (steps=…)
    guide_steps: int | None = None  # vqgan-clip's and stylegan's optimisation steps (None: guide's own)

    def keys(self) -> dict[str, tuple[str, bool]]:
        """Each API key's (user, admin). A key given without a user name is its own user."""
        import hashlib

        out = {}
        for entries, admin in ((self.api_keys, False), (self.admin_keys, True)):
            for entry in entries:
                user, sep, key = entry.partition(":")
                if not sep:
                    user, key = "key-" + hashlib.sha256(entry.encode()).hexdigest()[:8], entry
                out[key] = (user, admin)
        return out

    def hosts(self) -> tuple[str, ...]:
        """The Host names this server answers besides the loopback ones: the allowed ones and the
        address it listens on, unless that is a wildcard."""
        listen = () if self.host in ("0.0.0.0", "::", "") else (self.host,)
        public = (self.public_url.split("://", 1)[-1].split("/", 1)[0],) if self.public_url else ()
        from .errors import host_name

        return tuple(dict.fromkeys((*self.allowed_hosts, *listen, *(host_name(p) for p in public))))

    def public_base(self) -> str:
        """The base of the URLs results point to, from the configuration, never a request's Host."""
        if self.public_url:
            return self.public_url.rstrip("/") + "/"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    def check(self) -> None:
        if not is_loopback(self.host) and not self.keys():
            raise PromptismError(
                f"the server would listen on {self.host}, beyond this machine, without API keys: "
                "give --api-key KEY (or PROMPTISM_API_KEYS), or bind to 127.0.0.1"
            )
        if self.concurrency < 1 or self.max_queue < 0 or self.job_timeout_s <= 0 or self.body_timeout_s <= 0:
            raise PromptismError("--concurrency must be ≥ 1, --max-queue ≥ 0, and --job-timeout and --body-timeout > 0")
        if self.guide_steps is not None and not 1 <= self.guide_steps <= 1000:
            raise PromptismError(f"--guide-steps must be from 1 to 1000, got {self.guide_steps}")
        if any(len(k) < 8 for k in self.keys()):
            raise PromptismError("API keys must be at least 8 characters long")
        from ..pipelines.settings import Settings

        bad = set(self.defaults) - set(Settings.__dataclass_fields__)
        if bad:
            raise PromptismError(f"unknown settings: {', '.join(sorted(bad))}")
        Settings(**self.defaults).check()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
