"""DeepDream (Mordvintsev, Olah and Tyka 2015) on CLIP's image tower: a picture changed by gradient
ascent to excite one layer of the network more, over octaves (from a shrunk copy up to the full
size, the detail found at each carried up), with the picture randomly rolled at each step so that
the pattern does not lock to the pixel grid, and each step's gradient normalised. With a prompt,
the goal is CLIP's cosine with the caption instead of a layer's activation."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from .. import __version__
from ..errors import PromptismError
from ..pipelines.common import check_seed, progress_bar, to_images
from ..responsible.energy import footprinted
from .parametrize import frozen, zoomed

DEFAULT_LAYER = "body.2"
LAYER_LR, LAYER_JITTER, PROMPT_LR = 0.005, 2, 0.003


@dataclass
class DreamResult:
    image: Image.Image
    metadata: dict
    frames: list[Image.Image] = field(default_factory=list)  # the zoom video's, when asked for


def _tower(clip):
    tower = getattr(getattr(clip, "model", None), "image", None)
    if tower is None or not hasattr(tower, "body"):
        raise PromptismError(
            f"dream needs one of Promptism's own CLIPs (its image tower's layers); {clip.name!r} is not"
        )
    return tower


def list_layers(clip) -> list[str]:
    """The image tower's layers a dream can excite: each stage (``body.K``) and the convolutions
    and activations inside it (``body.K.J``)."""
    return [name for name, _ in _tower(clip).named_modules() if name.startswith("body.")]


def _layer_fn(clip, layer: str):
    """x (B, 3, H, W) in [-1, 1] -> that layer's activation (the tower run up to it)."""
    tower = _tower(clip)
    layers = list_layers(clip)
    if layer not in layers:
        raise PromptismError(f"no layer {layer!r} in CLIP {clip.name!r}; layers are {', '.join(layers)}")
    modules = dict(tower.named_modules())
    target = modules[layer]

    def run(x: torch.Tensor) -> torch.Tensor:
        got = {}

        def keep(_m, _i, out):
            got["act"] = out
            raise _Stop

        handle = target.register_forward_hook(keep)
        try:
            tower.body(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        return got["act"]

    return run


class _Stop(Exception):
    """Ends the tower's forward pass once the chosen layer has run."""


def _goal(clip, layer: str, prompt: str | None):
    """The objective to raise: the layer's mean squared activation, or CLIP's cosine with the prompt."""
    if prompt is None:
        act = _layer_fn(clip, layer)
        return lambda x: act(x).pow(2).mean()
    if not prompt.strip():
        raise PromptismError("the dream's prompt is empty")
    with torch.no_grad():
        text = clip.encode_text([prompt])[0]

    def cosine(x: torch.Tensor) -> torch.Tensor:
        side = (clip.image_size, clip.image_size)
        if x.shape[-2:] != side:  # area-averaged when shrinking: every pixel gets its share of the gradient
            shrink = x.shape[-1] > clip.image_size
            x = F.interpolate(x, size=side, mode="area") if shrink else F.interpolate(x, size=side, mode="bilinear")
        return (clip._encode_pixels(x) @ text).mean()

    return cosine


def _ascend(x, goal, steps, lr, jitter, g, tick) -> torch.Tensor:
    for _ in range(steps):
        oy, ox = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=g)) if jitter else (0, 0)
        rolled = x.roll((oy, ox), dims=(2, 3)).detach().requires_grad_(True)
        goal(rolled).backward()
        grad = rolled.grad
        # the original's normalised step, each pixel's capped: CLIP's max pools make a few pixels'
        # gradients many times the mean, and uncapped they overshoot
        step = (grad / (grad.abs().mean() + 1e-8)).clamp(-10, 10)
        x = (rolled.detach() + lr * step).roll((-oy, -ox), dims=(2, 3)).clamp(-1, 1)
        tick()
    return x


@footprinted
def dream(
    picture,
    layer: str = DEFAULT_LAYER,
    prompt: str | None = None,
    octaves: int = 3,
    octave_scale: float = 1.4,
    steps: int = 10,
    lr: float | None = None,
    jitter: int | None = None,
    clip: str = "world",
    seed: int = 0,
    zoom_frames: int = 0,
    zoom: float = 1.05,
    progress: bool = False,
) -> DreamResult:
    """Dream on ``picture`` (a path, bytes or PIL image): raise ``layer``'s activation (or, with
    ``prompt``, CLIP's cosine with it) over ``octaves`` octaves of ``steps`` steps. ``zoom_frames``
    > 0 makes a zoom video: each frame is the last one enlarged by ``zoom``, cropped back and
    dreamt on again (``DreamResult.frames``). ``lr`` and ``jitter`` default to 0.005 and 2 px for a
    layer; for a prompt to 0.003 and none, since the CLIP's embedding keeps where things are and a
    rolled picture is another picture to it."""
    from ..clip import load

    if lr is None:
        lr = PROMPT_LR if prompt is not None else LAYER_LR
    if jitter is None:
        jitter = 0 if prompt is not None else LAYER_JITTER
    from ..pipelines.images import open_image, to_tensor

    for name, v, lo, hi in (
        ("octaves", octaves, 1, 8),
        ("steps", steps, 1, 1000),
        ("zoom_frames", zoom_frames, 0, 600),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise PromptismError(f"{name} must be a whole number from {lo} to {hi}, got {v!r}")
    if isinstance(jitter, bool) or not isinstance(jitter, int) or not 0 <= jitter <= 32:
        raise PromptismError(f"jitter must be a whole number of pixels from 0 to 32, got {jitter!r}")
    for name, v, lo, hi in (("octave_scale", octave_scale, 1.0, 4.0), ("lr", lr, 1e-6, 1.0), ("zoom", zoom, 1.0, 2.0)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise PromptismError(f"{name} must be a number from {lo:g} to {hi:g}, got {v!r}")
    seed = check_seed(seed)
    source = open_image(picture, "picture")
    model = load(clip)
    goal = _goal(model, layer, prompt)
    g = torch.Generator().manual_seed(seed)
    base = to_tensor([source.image.convert("RGB")])
    t0 = time.time()
    frames: list[Image.Image] = []
    with frozen(model.model):
        total = octaves * steps * (1 + zoom_frames)
        with progress_bar("dream", total, progress) as bar:

            def tick() -> None:
                bar(0, total)

            x = _octaves(base, goal, octaves, octave_scale, steps, lr, jitter, g, tick)
            for _ in range(zoom_frames):
                frames.append(to_images(x)[0])
                x = _octaves(zoomed(x, zoom), goal, octaves, octave_scale, steps, lr, jitter, g, tick)
            if zoom_frames:
                frames.append(to_images(x)[0])
        with torch.no_grad():
            before, after = float(goal(base)), float(goal(x))
    meta = {
        "generator": "deepdream",
        "version": __version__,
        "operation": "dream",
        "source": source.describe(),
        "goal": {"prompt": prompt} if prompt is not None else {"layer": layer},
        "goal_before": round(before, 6),
        "goal_after": round(after, 6),
        "settings": dict(
            layer=layer, octaves=octaves, octave_scale=octave_scale, steps=steps, lr=lr, jitter=jitter, zoom=zoom
        ),
        "clip": str(clip),
        "seed": seed,
        "size": list(source.image.size),
        "seconds": round(time.time() - t0, 3),
    }
    return DreamResult(to_images(x)[0], meta, frames)


def _octaves(base, goal, octaves, octave_scale, steps, lr, jitter, g, tick) -> torch.Tensor:
    h, w = base.shape[-2:]
    shapes = [(max(8, round(h / octave_scale**k)), max(8, round(w / octave_scale**k))) for k in range(octaves)][::-1]
    detail = torch.zeros(1, 3, *shapes[0])
    x = base
    for shape in shapes:
        scaled = F.interpolate(base, size=shape, mode="bilinear", align_corners=False)
        if detail.shape[-2:] != shape:
            detail = F.interpolate(detail, size=shape, mode="bilinear", align_corners=False)
        x = _ascend((scaled + detail).clamp(-1, 1), goal, steps, lr, jitter, g, tick)
        detail = x - scaled
    return x
