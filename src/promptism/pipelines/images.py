"""Pictures and masks given to Promptism: read with limits and clear errors, hashed for
provenance, and brought to the square sizes the models work at.

Mask convention (the one diffusers uses): white marks what to repaint, black what to keep; grey
counts as white from 128 up. OpenAI's Images API marks what to repaint with transparent pixels
instead: ``open_mask(..., convention="alpha")`` reads such masks.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import PromptismError

MAX_INPUT_PIXELS = 4096 * 4096  # a larger picture is refused before it is decoded
MAX_INPUT_BYTES = 50 * 2**20
MASK_CONVENTIONS = ("white", "alpha")

ImageSource = str | Path | bytes | Image.Image


@dataclass(frozen=True)
class Source:
    """An input picture (RGB, its own size) and what provenance says of it."""

    image: Image.Image
    sha256: str
    name: str

    def describe(self) -> dict:
        return {"sha256": self.sha256, "name": self.name, "width": self.image.width, "height": self.image.height}


def _read(src: ImageSource, what: str) -> tuple[Image.Image, str, str]:
    """(decoded picture in its own mode, sha256 of the bytes or pixels, a name)."""
    if isinstance(src, Image.Image):
        _check_pixels(src.size, what)
        return src.copy(), hashlib.sha256(src.tobytes()).hexdigest(), f"<{what}>"
    if isinstance(src, (bytes, bytearray)):
        data, name = bytes(src), f"<{what} bytes>"
    else:
        path = Path(src)
        if not path.is_file():
            raise PromptismError(f"{what} {str(path)!r} is not a file")
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise PromptismError(
                f"{what} {path.name!r} is {path.stat().st_size / 2**20:.0f} MB; "
                f"at most {MAX_INPUT_BYTES // 2**20} MB are accepted"
            )
        data, name = path.read_bytes(), path.name
    if len(data) > MAX_INPUT_BYTES:
        raise PromptismError(
            f"the {what} is {len(data) / 2**20:.0f} MB; at most {MAX_INPUT_BYTES // 2**20} MB are accepted"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below anyway
            im = Image.open(io.BytesIO(data))
        _check_pixels(im.size, what)  # from the header, before any pixel is decoded
        im.load()
    except PromptismError:
        raise
    except Image.DecompressionBombError as e:  # Pillow refuses to even open it
        claimed = re.search(r"\((\d+) pixels\)", str(e))
        count = f"{int(claimed.group(1)):,} pixels" if claimed else "too many pixels"
        raise PromptismError(
            f"the {what} {name!r} claims {count}; at most {MAX_INPUT_PIXELS:,} pixels are accepted"
        ) from None
    except UnidentifiedImageError:
        raise PromptismError(f"the {what} {name!r} is not a picture Pillow can read (PNG, JPEG, WebP, …)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise PromptismError(f"the {what} {name!r} is damaged or truncated: {e}") from None
    return im, hashlib.sha256(data).hexdigest(), name


def _check_pixels(size: tuple[int, int], what: str) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise PromptismError(f"the {what} has no pixels ({w}×{h})")
    if w * h > MAX_INPUT_PIXELS:
        raise PromptismError(
            f"the {what} is {w}×{h} pixels; at most {MAX_INPUT_PIXELS:,} pixels "
            f"(e.g. {int(MAX_INPUT_PIXELS**0.5)}×{int(MAX_INPUT_PIXELS**0.5)}) are accepted"
        )


def open_image(src: ImageSource, what: str = "image") -> Source:
    """A picture from a path, bytes or a PIL image, as RGB; transparency is laid on white."""
    im, digest, name = _read(src, what)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        im = flat
    return Source(im.convert("RGB"), digest, name)


def open_mask(src: ImageSource, size: tuple[int, int], convention: str = "white") -> tuple[np.ndarray, str]:
    """(repaint mask as a bool array (H, W), sha256). ``size`` is the picture's (width, height):
    a mask of any other size is refused, as is one that marks nothing."""
    if convention not in MASK_CONVENTIONS:
        raise PromptismError(f"mask convention must be one of {', '.join(MASK_CONVENTIONS)}, got {convention!r}")
    im, digest, name = _read(src, "mask")
    if im.size != tuple(size):
        raise PromptismError(
            f"the mask {name!r} is {im.width}×{im.height} pixels but the picture is "
            f"{size[0]}×{size[1]}: they must be the same size"
        )
    if convention == "alpha":
        if "A" not in im.getbands() and not (im.mode == "P" and "transparency" in im.info):
            raise PromptismError(
                f"the mask {name!r} has no transparency; its transparent pixels must mark what to repaint"
            )
        mask = np.asarray(im.convert("RGBA").getchannel("A")) < 128
    else:
        mask = np.asarray(im.convert("L")) >= 128
    if not mask.any():
        what = "transparent" if convention == "alpha" else "white"
        raise PromptismError(f"the mask {name!r} marks nothing to repaint (no {what} pixels)")
    return mask, digest


def square(im: Image.Image, size: int) -> Image.Image:
    """The picture's centred square, resized to size × size."""
    w, h = im.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return im.crop(box).resize((size, size), Image.BICUBIC, reducing_gap=None) if (w, h) != (size, size) else im


def to_tensor(images: list[Image.Image]):
    """RGB pictures of one size -> (N, 3, S, S) float in [-1, 1]."""
    import torch

    arr = np.stack([np.asarray(im.convert("RGB")) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def mask_at(mask: np.ndarray, size: int):
    """A repaint mask brought to size × size (stretched, as the picture is for inpainting): a
    cell is repainted if any part of it is. Returns (1, 1, S, S) float, 1 = repaint."""
    import torch

    im = Image.fromarray(mask.astype(np.float32), mode="F").resize((size, size), Image.BOX)
    return torch.from_numpy(np.asarray(im) > 0).float()[None, None]
