"""Provenance: every picture Promptism writes says what made it, in PNG text chunks and in a
JSON sidecar next to it (the same dictionary in both)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .. import __version__
from ..errors import PromptismError

PREFIX = "promptism:"


def png_info(meta: dict) -> PngInfo:
    info = PngInfo()
    info.add_text("Software", f"promptism {__version__}")
    for k, v in meta.items():
        info.add_text(PREFIX + k, v if isinstance(v, str) else json.dumps(v))
    return info


def read_provenance(path: str | Path) -> dict:
    """The promptism:* text chunks of a PNG, JSON values decoded."""
    with Image.open(path) as im:
        text = dict(getattr(im, "text", {}))
    out = {}
    for k, v in text.items():
        if k.startswith(PREFIX):
            try:
                out[k[len(PREFIX) :]] = json.loads(v)
            except json.JSONDecodeError:
                out[k[len(PREFIX) :]] = v
    return out


def marks(meta: dict) -> dict:
    """What a written picture carries besides its provenance: the watermark and C2PA settings."""
    from ..responsible import credentials, watermark

    return {
        **meta,
        "watermark": watermark.IDENTIFIER if watermark.enabled() else "off",
        "content_credentials": "c2pa" if credentials.enabled() else "off",
    }


def save_png(img: Image.Image, path: str | Path, meta: dict) -> Path:
    """Write the picture with Promptism's invisible watermark, its provenance chunks and a signed
    C2PA manifest (docs/responsible.md), and PATH.json, each atomically."""
    import io

    from ..responsible import credentials, watermark

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = marks(meta)
    if meta["watermark"] != "off":
        img = watermark.embed(img)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=png_info(meta))
    data = buf.getvalue()
    record = {"software": f"promptism {__version__}", **meta}  # the sidecar, and the manifest's assertion
    if meta["content_credentials"] != "off":
        data = credentials.sign_png(data, record, path.name)
    side = path.with_suffix(".json")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
        tmp = side.with_name(side.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, side)
    except BaseException:  # a half-written file (a full disk) does not stay behind
        tmp.unlink(missing_ok=True)
        raise
    return path


ANIMATIONS = {".gif": "GIF", ".webp": "WEBP", ".mp4": "MP4"}


def check_video_path(path: str | Path) -> None:
    """An error before any work when ``path`` is not an animation this can write (MP4 without
    imageio-ffmpeg included)."""
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATIONS:
        raise PromptismError(f"a video is {', '.join(ANIMATIONS)}: give one of those, not {Path(path).name!r}")
    if suffix == ".mp4":
        _ffmpeg()


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        raise PromptismError(
            "MP4 needs the imageio-ffmpeg package: pip install 'promptism[video]' (or write a .gif)"
        ) from None
    return imageio_ffmpeg


def _write_mp4(frames: list[Image.Image], path: Path, fps: float, comment: str) -> None:
    """H.264 in yuv420p (what every player plays), whose sides must be even: odd ones grow by a pixel."""
    w, h = frames[0].size
    size = (w + w % 2, h + h % 2)
    writer = _ffmpeg().write_frames(
        str(path),
        size,
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        output_params=["-metadata", f"comment={comment}"],
        ffmpeg_log_level="error",
    )
    writer.send(None)  # start ffmpeg
    try:
        for frame in frames:
            frame = frame.convert("RGB")
            writer.send((frame.resize(size, Image.NEAREST) if frame.size != size else frame).tobytes())
    finally:
        writer.close()


def save_animation(
    frames: list[Image.Image], path: str | Path, meta: dict, frame_ms: int = 150, bounce: bool = True
) -> Path:
    """Frames as an animated GIF or WebP, or an MP4 video (by the suffix), GIF and WebP looping,
    there and back with ``bounce``; provenance goes in the file's comment (GIF, MP4) or XMP (WebP)
    and in PATH.json. MP4 needs the ``imageio-ffmpeg`` package (``pip install 'promptism[video]'``)."""
    path = Path(path)
    fmt = ANIMATIONS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"an animation is {', '.join(ANIMATIONS)}, not {path.suffix!r}")
    if not 10 <= frame_ms <= 10_000:
        raise ValueError(f"frame time must be 10 to 10000 ms, got {frame_ms}")
    seq = list(frames) + (list(frames[-2:0:-1]) if bounce else [])
    text = json.dumps({"software": f"promptism {__version__}", **meta})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    try:
        if fmt == "MP4":
            _write_mp4(seq, tmp, 1000 / frame_ms, text)
        else:
            extra = {"comment": text.encode()} if fmt == "GIF" else {"xmp": text.encode(), "lossless": True}
            seq[0].save(tmp, format=fmt, save_all=True, append_images=seq[1:], duration=frame_ms, loop=0, **extra)
        os.replace(tmp, path)
    except BaseException:  # nothing half-written stays behind
        tmp.unlink(missing_ok=True)
        raise
    side = path.with_suffix(".json")
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {
                "software": f"promptism {__version__}",
                **meta,
                "frames": len(frames),
                "bounce": bounce,
                "frame_ms": frame_ms,
            },
            indent=1,
        )
    )
    os.replace(tmp, side)
    return path


def grid(images: list[Image.Image], cols: int | None = None, pad: int = 2) -> Image.Image:
    """Pictures side by side in rows of ``cols`` (default: as square as possible)."""
    if not images:
        raise ValueError("no pictures for a grid")
    n = len(images)
    cols = cols or max(1, int(round(n**0.5)) if n != 2 else 2)
    rows = -(-n // cols)
    w, h = images[0].size
    sheet = Image.new("RGB", (cols * w + (cols + 1) * pad, rows * h + (rows + 1) * pad), (255, 255, 255))
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        sheet.paste(im, (pad + c * (w + pad), pad + r * (h + pad)))
    return sheet
