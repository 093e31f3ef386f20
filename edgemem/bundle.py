"""The bundle: the one signed artifact a device runs.

A bundle is a folder (or a ``.tar`` of it) holding the decoder graph, its tokenizer, the sentence
embedder and ``manifest.json``. The manifest lists every file with its size and sha256 and is
signed with ed25519, so one signature check plus one hash per file proves the whole bundle came
from a trusted builder unchanged. Nothing else in the folder is allowed: an unlisted file is a
file nobody vouched for.

The signature covers the canonical JSON of the manifest without its ``signature`` key: sorted
keys, no whitespace, UTF-8 (``canonical_json``). Any builder in any language can reproduce those
bytes, and re-serializing the manifest on the device cannot change what was signed.

This module is the runtime side: no torch, and ``cryptography`` is imported only when signing
or verifying. The toolchain (``export.build``) assembles the manifest and calls ``write``.
"""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Iterable, Mapping

from .errors import BundleError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from .home import Home

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIG_ALG = "ed25519"
_CHUNK = 1 << 20
# Keys every manifest must carry for a device to run it (see docs/ARCHITECTURE.md).
REQUIRED_KEYS = ("format_version", "created", "version", "profile", "quantization", "model",
                 "base", "files", "signature")


def canonical_json(obj: Any) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except ValueError as e:  # NaN/inf in quality figures would make the bytes ambiguous
        raise BundleError(f"manifest is not canonical JSON: {e}") from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    import hashlib  # here, not at the top: importing it maps OpenSSL (3.4 MB resident)

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_stream(f: IO[bytes]) -> tuple[str, int]:
    import hashlib

    h = hashlib.sha256()
    n = 0
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Manifest:
    """A parsed (and, when returned by ``verify``, verified) manifest.

    ``data`` is the manifest dict exactly as signed; the properties are conveniences for the
    fields every consumer needs. ``root`` is the bundle folder (None for an unextracted archive).
    """

    data: dict[str, Any]
    root: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def version(self) -> int:
        return int(self.data["version"])

    @property
    def parent_version(self) -> int | None:
        v = self.data.get("parent_version")
        return None if v is None else int(v)

    @property
    def profile(self) -> str:
        return str(self.data["profile"])

    @property
    def quantization(self) -> str:
        return str(self.data["quantization"])

    @property
    def model(self) -> dict[str, Any]:
        return self.data["model"]

    @property
    def io(self) -> dict[str, Any]:
        return self.data["model"]["io"]

    @property
    def architecture(self) -> dict[str, Any]:
        return self.data["model"]["architecture"]

    @property
    def special_tokens(self) -> dict[str, int]:
        return self.data["model"]["special_tokens"]

    @property
    def chat_template(self) -> str:
        return self.data["model"]["chat_template"]

    @property
    def stop_token_ids(self) -> list[int]:
        return list(self.data["model"].get("stop_token_ids", []))

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.data["files"]

    @property
    def quality(self) -> dict[str, Any] | None:
        return self.data.get("quality")

    @property
    def golden(self) -> dict[str, Any] | None:
        return self.data.get("golden")

    @property
    def embedder(self) -> dict[str, Any] | None:
        return self.data.get("embedder")

    @property
    def key_id(self) -> str:
        return str(self.data["signature"]["key_id"])

    def path(self, rel: str) -> Path:
        """Absolute path of a listed file (only for a folder bundle)."""
        if self.root is None:
            raise BundleError("this bundle is an archive; extract it first")
        if rel not in self.data["files"]:
            raise BundleError(f"bundle has no file {rel!r}")
        return self.root / rel

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


# ---------------------------------------------------------------- building (toolchain side)

def _check_rel(rel: str) -> str:
    """A listed path must stay inside the bundle: relative, POSIX, no '..', no empty parts."""
    p = PurePosixPath(rel)
    if (not rel or p.is_absolute() or "\\" in rel or any(part in ("", ".", "..") for part in rel.split("/"))
            or rel == MANIFEST):
        raise BundleError(f"bad file path in bundle: {rel!r}")
    return rel


def _walk(folder: Path) -> list[str]:
    """Every regular file under ``folder`` except the manifest, as sorted POSIX paths."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            full = Path(dirpath) / name
            rel = full.relative_to(folder).as_posix()
            if rel == MANIFEST:
                continue
            if full.is_symlink() or not full.is_file():
                raise BundleError(f"bundle may hold only regular files, found {rel!r}")
            out.append(rel)
    return sorted(out)


def file_table(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """{relative path: {sha256, size}} for every file of a bundle folder."""
    root = Path(folder)
    return {rel: {"sha256": sha256_file(root / rel), "size": (root / rel).stat().st_size}
            for rel in map(_check_rel, _walk(root))}


def sign(manifest: Mapping[str, Any], key: "Ed25519PrivateKey") -> dict[str, Any]:
    """Return a copy of ``manifest`` with ``signature`` over its canonical JSON."""
    from .signing_keys import key_id

    body = {k: v for k, v in manifest.items() if k != "signature"}
    value = key.sign(canonical_json(body))
    return {**body, "signature": {"alg": SIG_ALG, "key_id": key_id(key.public_key()), "value": value.hex()}}


def write(folder: str | os.PathLike[str], manifest: Mapping[str, Any], key: "Ed25519PrivateKey") -> Manifest:
    """Fill in ``files`` (hashing the folder's contents), sign, and write ``manifest.json``.

    The caller provides every other key; ``format_version`` and ``created`` default here.
    """
    root = Path(folder)
    body = dict(manifest)
    body.setdefault("format_version", FORMAT_VERSION)
    body.setdefault("created", utc_now())
    body["files"] = file_table(root)
    signed = sign(body, key)
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(signed, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST)
    return Manifest(signed, root)


def pack(folder: str | os.PathLike[str], archive: str | os.PathLike[str]) -> Path:
    """Write the single-file form: an uncompressed tar, manifest first, stable metadata.

    Uncompressed because ONNX weights barely compress and a device can then hash members while
    streaming. Owner, group and times are fixed so the same bundle gives the same archive bytes.
    """
    root = Path(folder)
    if not (root / MANIFEST).is_file():
        raise BundleError(f"{root} is not a bundle folder (no {MANIFEST})")
    out = Path(archive)
    tmp = out.with_name(out.name + ".tmp")
    names = [MANIFEST] + _walk(root)
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in names:
            info = tarfile.TarInfo(rel)
            info.size = (root / rel).stat().st_size
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(root / rel, "rb") as f:
                tar.addfile(info, f)
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------- verification (device side)

def _parse_manifest(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{where}: manifest.json is not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{where}: manifest.json is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise BundleError(f"{where}: manifest.json lacks {', '.join(missing)}")
    if data.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{where}: unsupported bundle format_version {data.get('format_version')!r} "
                          f"(this runtime reads {FORMAT_VERSION})")
    if not isinstance(data["files"], dict) or not data["files"]:
        raise BundleError(f"{where}: manifest.json lists no files")
    for rel, entry in data["files"].items():
        _check_rel(rel)
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not isinstance(entry.get("size"), int)):
            raise BundleError(f"{where}: manifest entry for {rel!r} needs sha256 and size")
    return data


def _trusted(trusted_keys: Any, home: "Home | None") -> dict[str, "Ed25519PublicKey"]:
    from . import signing_keys

    if trusted_keys is None:
        return signing_keys.trusted_keys(home)
    if isinstance(trusted_keys, Mapping):
        return dict(trusted_keys)
    out = {}
    for k in trusted_keys:
        if isinstance(k, (str, os.PathLike)) and Path(k).exists():
            k = signing_keys.load_public_key(k)
        elif isinstance(k, str):
            k = signing_keys.parse_public_key(k)
        elif isinstance(k, bytes):
            k = signing_keys.parse_public_key(k.hex())
        out[signing_keys.key_id(k)] = k
    return out


def check_signature(data: Mapping[str, Any], trusted_keys: Any = None, home: "Home | None" = None,
                    where: str = "bundle") -> str:
    """Check the manifest's signature against trusted keys; returns the signing key id."""
    from cryptography.exceptions import InvalidSignature

    sig = data.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != SIG_ALG or not isinstance(sig.get("value"), str):
        raise BundleError(f"{where}: manifest is not signed with {SIG_ALG}")
    trusted = _trusted(trusted_keys, home)
    if not trusted:
        raise BundleError(f"{where}: no trusted signing keys on this device (add one under keys/trusted or pass --key)")
    kid = str(sig.get("key_id"))
    key = trusted.get(kid)
    if key is None:
        raise BundleError(f"{where}: signed by key {kid}, which this device does not trust")
    body = {k: v for k, v in data.items() if k != "signature"}
    try:
        key.verify(bytes.fromhex(sig["value"]), canonical_json(body))
    except (InvalidSignature, ValueError):
        raise BundleError(f"{where}: bad signature: the manifest was changed after signing") from None
    return kid


def _verify_folder(root: Path, trusted_keys: Any, home: "Home | None", seal: bool = False) -> Manifest:
    where = str(root)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{where}: not a bundle (no {MANIFEST})")
    raw = mpath.read_bytes()
    data = _parse_manifest(raw, where)
    check_signature(data, trusted_keys, home, where)
    # A seal vouches for the home's own trust root only: seal.write needs the signing key's own
    # file under keys/trusted (a key passed in from elsewhere is not sealed).
    sealing = seal
    blocks: dict[str, list[str]] = {}
    stats: dict[str, dict[str, int]] = {}
    listed = data["files"]
    present = set(_walk(root))
    for rel, entry in sorted(listed.items()):
        p = root / rel
        if rel not in present:
            raise BundleError(f"{where}: listed file {rel} is missing")
        size = p.stat().st_size
        if size != entry["size"]:
            raise BundleError(f"{where}: {rel} has {size} bytes, manifest says {entry['size']}")
        if sealing:
            from .seal import _stat

            before = _stat(p)
            digest, blocks[rel] = _sha256_and_blocks(p)
            stats[rel] = _stat(p)
            if stats[rel] != before:
                sealing = False  # changed while hashing: verify, but seal nothing
        else:
            digest = sha256_file(p)
        if digest != entry["sha256"]:
            raise BundleError(f"{where}: {rel} does not match its sha256 (changed or corrupt)")
    extra = sorted(present - set(listed))
    if extra:
        raise BundleError(f"{where}: unlisted file {extra[0]} in bundle")
    if sealing:
        from . import seal as seal_mod
        from .home import Home

        seal_mod.write(root, raw, data, blocks, stats, home if home is not None else Home.resolve())
    return Manifest(data, root)


def _sha256_and_blocks(path: Path) -> tuple[str, list[str]]:
    """sha256 of a file and its seal's block digests, in one read."""
    import hashlib

    from .seal import BlockHasher

    h, b = hashlib.sha256(), BlockHasher()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
            b.update(chunk)
    return h.hexdigest(), b.finish()


def _verify_archive(path: Path, trusted_keys: Any, home: "Home | None") -> Manifest:
    where = str(path)
    try:
        tar = tarfile.open(path, "r:")
    except (tarfile.TarError, EOFError) as e:
        raise BundleError(f"{where}: not a bundle archive ({e})") from None
    with tar:
        try:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BundleError(f"{where}: archive must start with {MANIFEST}")
            f = tar.extractfile(first)
            assert f is not None
            data = _parse_manifest(f.read(), where)
            check_signature(data, trusted_keys, home, where)
            listed = data["files"]
            seen: set[str] = set()
            for member in tar:  # iterates from the first member again
                name = member.name
                if member.isdir() or member is first:
                    continue
                if not member.isfile():
                    raise BundleError(f"{where}: archive may hold only regular files, found {name!r}")
                if name not in listed:
                    raise BundleError(f"{where}: unlisted file {name} in bundle")
                if name in seen:
                    raise BundleError(f"{where}: {name} appears twice in the archive")
                seen.add(name)
                fm = tar.extractfile(member)
                assert fm is not None
                digest, size = _sha256_stream(fm)
                if size != listed[name]["size"]:
                    raise BundleError(f"{where}: {name} has {size} bytes, manifest says {listed[name]['size']}")
                if digest != listed[name]["sha256"]:
                    raise BundleError(f"{where}: {name} does not match its sha256 (changed or corrupt)")
        except (tarfile.TarError, EOFError, OSError) as e:
            raise BundleError(f"{where}: corrupt archive ({e})") from None
    missing = sorted(set(listed) - seen)
    if missing:
        raise BundleError(f"{where}: listed file {missing[0]} is missing")
    return Manifest(data, None)


def verify(path: str | os.PathLike[str], trusted_keys: Iterable[Any] | Mapping[str, Any] | None = None,
           home: "Home | None" = None, *, seal: bool = False) -> Manifest:
    """Verify a bundle folder or ``.tar``: signature first, then every file's size and sha256.

    ``trusted_keys`` is a mapping key_id -> public key, an iterable of public keys / hex strings /
    ``.pub`` paths, or None for the home folder's trusted keys. Raises ``BundleError`` with one
    line naming the first problem; returns the verified ``Manifest``. With ``seal`` (and the
    home's own trust root), a folder that passes is sealed for ``sealed`` starts (``edgemem.seal``).
    """
    p = Path(path)
    if p.is_dir():
        return _verify_folder(p, trusted_keys, home, seal)
    if p.is_file():
        return _verify_archive(p, trusted_keys, home)
    raise BundleError(f"no bundle at {p}")


def verify_isolated(path: str | os.PathLike[str], home: "Home | None" = None, timeout: float = 300.0) -> Manifest:
    """``verify`` against the home's trusted keys, run in a short-lived child process.

    Why: verifying in the engine's own process leaves ``cryptography`` (its Rust extension and
    OpenSSL, ~10 MB of code pages) and the hashing state resident for the life of the process:
    13 MB of the SmolLM2 engine's peak RSS, measured with ``benchmarks/engine_memory.py``, on a
    device whose budget is the model. In a child process that memory goes away when it exits.

    The security property is unchanged: the same ``verify`` (signature first, then every file's
    size and sha256, no unlisted files) against the same trust root (the home's ``keys/trusted``,
    resolved HERE and handed to the child, so an environment the child might read differently
    cannot change it), before the caller loads anything. The child answers with the canonical
    JSON of the manifest it verified, and that is the manifest returned: this process does not
    read manifest.json again, so what it uses is what was verified. No hashing happens here
    either (``import hashlib`` alone maps OpenSSL: 3.4 MB).
    (A data file swapped after the check and before onnxruntime maps it is not caught, exactly as
    with in-process verification, which also hashes before the session maps the file.)

    A child that cannot start or dies without a verdict falls back to in-process ``verify``;
    a verdict of failure raises ``BundleError`` with the child's one-line reason. To overlap the
    check with work that reads nothing of the bundle (importing onnxruntime), start an
    ``IsolatedVerification`` and call its ``result()`` before loading.
    """
    return IsolatedVerification(path, home, timeout).result()


class IsolatedVerification:
    """A ``verify_isolated`` check running in its child process; ``result()`` waits for it."""

    def __init__(self, path: str | os.PathLike[str], home: "Home | None" = None, timeout: float = 300.0) -> None:
        import subprocess
        import sys

        from .home import Home

        self.root = Path(path)
        self.home = home if home is not None else Home.resolve()
        self.timeout = timeout
        env = dict(os.environ)
        package_parent = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self._proc: Any = subprocess.Popen(
                [sys.executable, "-c", "from edgemem.bundle import _verify_child; _verify_child()",
                 str(self.root.resolve()), str(self.home.root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=package_parent)
        except OSError:
            self._proc = None

    def result(self) -> Manifest:
        import subprocess

        verdict = None
        if self._proc is not None:
            try:
                out, _ = self._proc.communicate(timeout=self.timeout)
                lines = out.decode("utf-8", "replace").strip().splitlines()
                verdict = json.loads(lines[-1]) if lines else None
            except (OSError, subprocess.SubprocessError, ValueError):
                self._proc.kill()
                self._proc.wait()
        if not isinstance(verdict, dict) or "ok" not in verdict:
            return verify(self.root, None, self.home, seal=True)
        if not verdict["ok"]:
            raise BundleError(str(verdict.get("error") or f"{self.root}: bundle verification failed"))
        try:
            data = json.loads(verdict["manifest"])
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"{self.root}: bundle verification gave no manifest") from None
        return Manifest(data, self.root if self.root.is_dir() else None)


def _verify_child() -> None:
    """Entry point of ``IsolatedVerification``'s child: bundle path and home root in argv, one JSON line out."""
    import sys

    from .home import Home

    try:
        m = verify(sys.argv[1], None, Home(Path(sys.argv[2])), seal=True)
        out = {"ok": True, "manifest": canonical_json(m.data).decode("utf-8")}
    except BundleError as e:
        out = {"ok": False, "error": str(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def sealed(path: str | os.PathLike[str], home: "Home | None" = None) -> Manifest | None:
    """The manifest of a folder that a full verification sealed and that is unchanged since
    (``edgemem.seal.check``: seal MAC, manifest bytes, trust file, file list, size/mtime/ctime/
    inode, sampled block digests), or None: then ``verify`` it in full."""
    from . import seal as seal_mod
    from .home import Home

    p = Path(path)
    if not p.is_dir():
        return None
    return seal_mod.check(p, home if home is not None else Home.resolve())


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a bundle's manifest WITHOUT verifying it (inspection, tooling, error messages)."""
    p = Path(path)
    if p.is_dir():
        try:
            return Manifest(_parse_manifest((p / MANIFEST).read_bytes(), str(p)), p)
        except FileNotFoundError:
            raise BundleError(f"{p}: not a bundle (no {MANIFEST})") from None
    try:
        with tarfile.open(p, "r:") as tar:
            f = tar.extractfile(MANIFEST)
            if f is None:
                raise KeyError(MANIFEST)
            return Manifest(_parse_manifest(f.read(), str(p)), None)
    except (tarfile.TarError, KeyError, OSError, EOFError):
        raise BundleError(f"no bundle at {p}") from None


def extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str],
            trusted_keys: Any = None, home: "Home | None" = None, *, seal: bool = False) -> Manifest:
    """Verify an archive, then unpack it into ``dest`` (which must not exist) and verify again.

    The second check is on the folder that will actually be loaded, so a file swapped between
    the two steps is still caught.
    """
    src = Path(archive)
    out = Path(dest)
    m = _verify_archive(src, trusted_keys, home)
    if out.exists():
        raise BundleError(f"{out} already exists")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    with tarfile.open(src, "r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            rel = member.name if member.name == MANIFEST else _check_rel(member.name)
            if rel != MANIFEST and rel not in m.files:
                raise BundleError(f"{src}: unlisted file {rel} in bundle")
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fm = tar.extractfile(member)
            assert fm is not None
            with open(target, "wb") as f:
                for chunk in iter(lambda: fm.read(_CHUNK), b""):
                    f.write(chunk)
    os.replace(tmp, out)
    return _verify_folder(out, trusted_keys, home, seal)


def manifest_bytes(data: Mapping[str, Any]) -> bytes:
    """Pretty manifest bytes as written to disk (the signature does not depend on them)."""
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


__all__ = ["FORMAT_VERSION", "MANIFEST", "Manifest", "canonical_json", "sha256_file", "file_table",
           "sign", "write", "pack", "verify", "read_manifest", "extract", "check_signature",
           "manifest_bytes", "utc_now"]
