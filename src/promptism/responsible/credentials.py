"""Content credentials: a signed C2PA manifest in every picture Promptism writes.

The manifest says that Promptism created the picture with a trained model (IPTC's digital source
type ``trainedAlgorithmicMedia``), with which version, and carries the picture's provenance (the
prompt, the models' hashes, every setting) as an ``org.promptism.provenance`` assertion. It is
signed with the user's key, and its hash covers the whole file, pixels and text chunks: a changed
byte breaks it.

The key is the user's to configure: ``PROMPTISM_C2PA_CERT`` (a PEM certificate chain, signer
first) and ``PROMPTISM_C2PA_KEY`` (its PEM private key; EC P-256, P-384, Ed25519 or RSA). Without
them, a local test identity is made at first use under ``PROMPTISM_C2PA_DIR`` (default
``$XDG_CONFIG_HOME/promptism/c2pa``): a self-made root and a signing certificate it issued. A
manifest signed that way proves that the file has not changed since it was signed on a machine
holding that key; it does not prove who that was, since no authority vouched for the root
(readers report the signer as untrusted unless they are told to trust that root, which
``promptism verify`` does for the local one).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptismError

SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ASSERTION = "org.promptism.provenance"
_LOCK = threading.Lock()
_IDENTITY = None


def credentials_dir() -> Path:
    explicit = os.environ.get("PROMPTISM_C2PA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "promptism" / "c2pa"


def enabled() -> bool:
    value = os.environ.get("PROMPTISM_C2PA", "on").strip().lower()
    if value not in ("on", "off"):
        raise PromptismError(f"PROMPTISM_C2PA is 'on' (the default) or 'off', not {value!r}")
    return value == "on"


@dataclass(frozen=True)
class Identity:
    chain: bytes  # PEM, the signing certificate first
    key: bytes  # PEM private key
    alg: str  # es256, es384, ed25519 or ps256
    root: bytes | None  # the local test root, to trust when reading (None for a configured key)
    source: str  # "configured: CERT KEY" or the local folder


def _make_local(folder: Path) -> None:
    """A root and a signing certificate it issued (EC P-256), written atomically to ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Promptism local test identity"),
            ]
        )

    now = datetime.datetime.now(datetime.UTC)
    usage = dict.fromkeys(
        [
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject, issuer, public, signing_key, ca: bool, extra):
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        for ext, critical in extra:
            b = b.add_extension(ext, critical=critical)
        return b.sign(signing_key, hashes.SHA256())

    root = certificate(
        name("Promptism local root"),
        name("Promptism local root"),
        root_key.public_key(),
        root_key,
        True,
        [(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), True)],
    )
    leaf = certificate(
        name("Promptism local signer"),
        root.subject,
        key.public_key(),
        root_key,
        False,
        [
            (x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False),
        ],
    )
    pem = serialization.Encoding.PEM
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".c2pa-", dir=folder.parent))
    (tmp / "chain.pem").write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    (tmp / "root.pem").write_bytes(root.public_bytes(pem))
    key_file = tmp / "signer.key"
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    try:
        tmp.rename(folder)  # atomic; another process that made one first wins
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def _alg(key_pem: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name, "es256")
    raise PromptismError(f"PROMPTISM_C2PA_KEY holds a {type(key).__name__}, which C2PA cannot sign with")


def identity() -> Identity:
    """The configured signing identity, or the local test one (made at first use); read once for
    as long as the settings name the same files."""
    global _IDENTITY
    with _LOCK:
        cert, key = os.environ.get("PROMPTISM_C2PA_CERT"), os.environ.get("PROMPTISM_C2PA_KEY")
        if bool(cert) != bool(key):
            raise PromptismError("set both PROMPTISM_C2PA_CERT and PROMPTISM_C2PA_KEY, or neither")
        folder = credentials_dir()
        source = f"configured: {cert} {key}" if cert else str(folder)
        if _IDENTITY is not None and _IDENTITY.source == source:
            return _IDENTITY
        if cert:
            try:
                chain, key_pem = Path(cert).read_bytes(), Path(key).read_bytes()
            except OSError as e:
                raise PromptismError(f"the C2PA certificate or key cannot be read: {e}") from None
            _IDENTITY = Identity(chain, key_pem, _alg(key_pem), None, source)
        else:
            if not (folder / "signer.key").is_file():
                _make_local(folder)
            _IDENTITY = Identity(
                (folder / "chain.pem").read_bytes(),
                (folder / "signer.key").read_bytes(),
                "es256",
                (folder / "root.pem").read_bytes(),
                source,
            )
        return _IDENTITY


def _context(trust: bytes | None = None):
    import c2pa

    settings = {"builder": {"thumbnail": {"enabled": False}}}
    if trust:
        settings["trust"] = {"user_anchors": trust.decode()}
    return c2pa.Context(c2pa.Settings.from_json(json.dumps(settings)))


def sign_png(png: bytes, meta: dict, title: str) -> bytes:
    """The PNG with a signed C2PA manifest stating that Promptism generated it, and its provenance."""
    import io

    import c2pa

    from .. import __version__

    ident = identity()
    manifest = {
        "claim_generator_info": [{"name": "promptism", "version": __version__}],
        "title": title,
        "format": "image/png",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": SOURCE_TYPE,
                            "softwareAgent": {"name": "promptism", "version": __version__},
                        }
                    ]
                },
            },
            {"label": ASSERTION, "data": meta},
        ],
    }
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(getattr(c2pa.C2paSigningAlg, ident.alg.upper()), ident.chain, ident.key, None)
    )
    out = io.BytesIO()
    with signer, c2pa.Builder(manifest, _context()) as builder:
        builder.sign(signer, "image/png", io.BytesIO(png), out)
    return out.getvalue()


def read_manifest(path: str | Path) -> dict | None:
    """The picture's active C2PA manifest and its validation, or None when it carries none:
    ``{"manifest", "state", "trusted", "problems", "signer", "issuer"}`` (the local test root is
    trusted when it exists)."""
    import c2pa

    path = Path(path)
    fmt = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(
        path.suffix.lower()
    )
    if fmt is None:
        return None
    root = credentials_dir() / "root.pem"
    trust = root.read_bytes() if root.is_file() else None
    try:
        with open(path, "rb") as f, c2pa.Reader(fmt, f, None, _context(trust)) as reader:
            store = json.loads(reader.json())
    except Exception as e:  # no manifest, or one that cannot be parsed
        if "ManifestNotFound" in type(e).__name__ or "not found" in str(e).lower():
            return None
        return {"manifest": None, "state": "Invalid", "trusted": False, "problems": [str(e)]}
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    problems = [s.get("code", "") for s in store.get("validation_status") or []]
    info = active.get("signature_info", {})
    return {
        "manifest": active,
        "state": store.get("validation_state"),
        "trusted": store.get("validation_state") == "Trusted" or (problems == [] and trust is not None),
        "problems": problems,
        "signer": info.get("common_name"),
        "issuer": info.get("issuer"),
    }
