"""Signed, expiring links to pictures: a `url` result opens in a browser or an `<img>` without the
bearer header that the API needs when keys are on. The signature is an HMAC of the picture's name
and the link's expiry under a secret the server keeps in its data folder."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path
from urllib.parse import parse_qs

SECRET_FILE = "url-signing.key"


def url_secret(data_dir: str | Path) -> bytes:
    """The data folder's signing secret, made on first use (readable by its owner only)."""
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return path.read_bytes()


def signature(secret: bytes, name: str, expires: int) -> str:
    return hmac.new(secret, f"{name}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def signed_query(secret: bytes, name: str, ttl_s: float) -> str:
    """'?exp=…&sig=…' for the picture ``name``, valid for ``ttl_s`` seconds from now."""
    expires = int(time.time() + ttl_s)
    return f"?exp={expires}&sig={signature(secret, name, expires)}"


def verify(secret: bytes, name: str, query: str) -> bool:
    """Whether ``query`` signs ``name`` and has not expired."""
    q = parse_qs(query)
    try:
        expires, sig = int(q["exp"][0]), q["sig"][0]
    except (KeyError, ValueError, IndexError):
        return False
    return expires >= time.time() and hmac.compare_digest(sig, signature(secret, name, expires))
