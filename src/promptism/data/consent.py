"""Artists' opt-out: samples whose makers said "do not train on this" are dropped before training.

Two rules, both counted by reason in the data's ``skipped`` record and the model's card:

- **markers** (always on unless turned off): a ``noai`` or ``noimageai`` directive (the
  convention of art sites' ``robots`` meta tags and X-Robots-Tag headers, which Spawning's
  do-not-train tools also read), or IPTC's data-mining property set to prohibited
  (``DMI-PROHIBITED``), anywhere in a sample's metadata record (img2dataset's ``KEY.json``, a
  picture's ``NAME.json``) or in the picture's own text chunks and XMP;
- **an exclude list** (``--exclude FILE``): one entry per line, ``#`` comments; an entry is a
  content hash (64 hex digits, optionally ``sha256:``), a URL (``http(s)://...``: every sample
  whose ``url``/``source``/``page_url`` starts with it, so a gallery's address excludes the
  gallery), or else a creator's name (matched against ``creator``/``author``/``artist``/
  ``owner``/``uploader``, ignoring case).
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptismError

MARKER = re.compile(r"(?<![a-z0-9])(?:noai|noimageai)(?![a-z0-9])|dmi-prohibited", re.IGNORECASE)
CREATOR_KEYS = ("creator", "author", "artist", "owner", "uploader", "by")
URL_KEYS = ("url", "source", "page_url", "image_url", "link")
_HASH = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


def _url(u: str) -> str:
    """A URL as it is compared: no scheme, no www., lower-case host, no trailing slash."""
    u = u.strip()
    u = re.sub(r"^[a-z][a-z0-9+.-]*://", "", u, flags=re.IGNORECASE)
    host, _, rest = u.partition("/")
    host = host.lower().removeprefix("www.")
    return (host + ("/" + rest if rest else "")).rstrip("/")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


@dataclass(frozen=True)
class Consent:
    creators: frozenset[str] = frozenset()
    urls: tuple[str, ...] = ()
    hashes: frozenset[str] = frozenset()
    source: str | None = None  # the exclude file
    markers: bool = True

    @classmethod
    def load(cls, path: str | Path | None = None, markers: bool = True) -> Consent:
        if path is None:
            return cls(markers=markers)
        path = Path(path)
        if not path.is_file():
            raise PromptismError(f"exclude list {str(path)!r} is not a file")
        creators, urls, hashes = set(), [], set()
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            h = _HASH.match(line.lower())
            if h:
                hashes.add(h.group(1))
            elif re.match(r"^https?://", line, re.IGNORECASE):
                urls.append(_url(line))
            else:
                creators.add(line.casefold())
        return cls(frozenset(creators), tuple(urls), frozenset(hashes), str(path), markers)

    def describe(self) -> dict:
        """What a model's card records of the rules its data went through."""
        return {
            "markers": "noai, noimageai, DMI-PROHIBITED" if self.markers else "off",
            "exclude_list": self.source,
            "exclude_entries": {"creators": len(self.creators), "urls": len(self.urls), "hashes": len(self.hashes)},
        }

    def reason(self, meta: dict | None, picture: bytes | Path | None) -> str | None:
        """Why a sample is left out, or None when it may be trained on."""
        meta = meta or {}
        if self.markers and any(MARKER.search(s) for s in _strings(meta)):
            return "opted out: noai marker in its metadata"
        if self.creators:
            for key in CREATOR_KEYS:
                v = meta.get(key)
                if isinstance(v, str) and v.strip().casefold() in self.creators:
                    return "excluded: creator"
        if self.urls:
            for key in URL_KEYS:
                v = meta.get(key)
                if isinstance(v, str) and any(_url(v).startswith(u) for u in self.urls):
                    return "excluded: url"
        if picture is not None and (self.hashes or self.markers):
            data = picture if isinstance(picture, bytes) else Path(picture).read_bytes()
            if self.hashes and hashlib.sha256(data).hexdigest() in self.hashes:
                return "excluded: content hash"
            if self.markers and _picture_marked(data):
                return "opted out: noai marker in the picture"
        return None


def _picture_marked(data: bytes) -> bool:
    """A noai directive in a picture's own text chunks, EXIF description or XMP."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            info = dict(img.info)
            info.update(getattr(img, "text", {}) or {})
    except (OSError, ValueError, SyntaxError):
        return False
    for value in info.values():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "ignore")
        if isinstance(value, str) and MARKER.search(value):
            return True
    return False


# what the rules dropped from each (source, split) this process read, for the model's card
_EXCLUDED: dict[tuple[str, str], dict[str, int]] = {}


def note_exclusions(source, split: str, skipped: dict) -> None:
    _EXCLUDED[(str(source), split)] = {k: v for k, v in skipped.items() if k.startswith(("opted out", "excluded"))}


def card_record(data) -> dict:
    """The rules in force and what they dropped from ``data``'s training split, as last read."""
    return {**active_consent().describe(), "excluded": dict(_EXCLUDED.get((str(data), "train"), {}))}


_ACTIVE: contextvars.ContextVar[Consent | None] = contextvars.ContextVar("promptism_consent", default=None)


def active_consent() -> Consent:
    """The rules in force: set by ``using_consent`` (the training commands' ``--exclude``), else
    the markers alone."""
    return _ACTIVE.get() or Consent()


@contextmanager
def using_consent(consent: Consent):
    token = _ACTIVE.set(consent)
    try:
        yield consent
    finally:
        _ACTIVE.reset(token)
