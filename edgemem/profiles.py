"""Firmware profiles: one TOML per device class.

A profile says how a device class runs the model (execution providers in order, threads,
quantization, context length) and what it may spend (short-term capacity, index precision, an
RSS budget). The export toolchain reads the same file to choose quantization and quality-gate
thresholds, so a bundle is built for the device that will run it.

Profiles are looked up in ``$EDGEMEM_HOME/profiles`` first (a vendor's own), then in the ones
shipped with the package.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ProfileError

SHIPPED_DIR = Path(__file__).resolve().parent / "firmware_profiles"
QUANTIZATIONS = ("fp32", "fp16", "int8", "int4", "int4-gptq")
INDEX_PRECISIONS = ("f32", "f16", "i8")
REHEARSALS = ("rules", "llm")
# The memory's sentence embedder: MiniLM-L6 as shipped, or a one-layer student distilled from it
# at build time (export.student): ~3x the ingest rate on 2 AVX2 cores for 1.2 points of evidence recall.
EMBEDDERS = ("minilm-l6", "minilm-l1")
KNOWN_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CoreMLExecutionProvider",
    "XnnpackExecutionProvider",
    "CPUExecutionProvider",
)
# Default quality-gate limits per quantization (perplexity increase, greedy agreement).
DEFAULT_GATE = {
    "fp32": (0.001, 0.99),
    "fp16": (0.01, 0.95),
    "int8": (0.03, 0.90),
    "int4": (0.08, 0.90),
    "int4-gptq": (0.08, 0.90),
}


IDENTIFY_MODES = ("number", "number+pin", "number+dob", "badge")


@dataclass(frozen=True)
class Profile:
    """A validated firmware profile."""

    name: str
    description: str
    path: Path | None
    providers: tuple[str, ...]
    threads: int
    quantization: str
    context_length: int
    max_new_tokens: int
    arena: bool
    short_term_capacity: int
    index_precision: str
    rss_budget_mb: int
    max_ppl_increase: float
    min_agreement: float
    emergency_number: str
    detect: dict[str, Any] = field(default_factory=dict)
    # Who turns a closed session into notes: "llm" (the bundled model scores phrases of the
    # patient's turns, rules kept; ~0.6 s a patient turn on 2 x86 cores, after the session) or
    # "rules" (the deterministic extractor alone: boards where that would hold up the next patient).
    rehearsal: str = "rules"
    embedder: str = "minilm-l6"
    # How the kiosk knows who is at the screen ([serve] identify): "number" (the number alone:
    # anyone who knows it gets in; unsafe outside a staffed desk), "number+pin", "number+dob" or
    # "badge" (serve.identify). ``production``: refuse bundles signed by a key whose private half
    # is on this device.
    identify: str = "number"
    production: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["providers"] = list(self.providers)
        d["path"] = str(self.path) if self.path else None
        return d


def _search_dirs(home: Path | None = None) -> list[Path]:
    dirs = []
    if home is not None:
        dirs.append(home / "profiles")
    dirs.append(SHIPPED_DIR)
    return dirs


def available(home: Path | None = None) -> dict[str, Path]:
    """Profile name -> file, the home folder's overriding the shipped ones."""
    found: dict[str, Path] = {}
    for d in reversed(_search_dirs(home)):
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                found[p.stem] = p
    return dict(sorted(found.items()))


def _req(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise ProfileError(f"{where}: missing '{key}'")
    value = table[key]
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        raise ProfileError(f"{where}: '{key}' must be {getattr(typ, '__name__', typ)}, got {value!r}")
    return value


def parse(data: dict[str, Any], *, name: str, path: Path | None = None) -> Profile:
    """Validate a profile's TOML tables; every error names the file and the key."""
    where = str(path) if path else name
    dev = data.get("device", {})
    eng = data.get("engine")
    mem = data.get("memory")
    if not isinstance(eng, dict) or not isinstance(mem, dict):
        raise ProfileError(f"{where}: needs [engine] and [memory] tables")
    gate = data.get("gate", {})
    safety = data.get("safety", {})
    providers = _req(eng, "providers", list, where)
    if not providers or any(p not in KNOWN_PROVIDERS for p in providers):
        raise ProfileError(f"{where}: providers must be a non-empty list from {', '.join(KNOWN_PROVIDERS)}")
    quant = _req(eng, "quantization", str, where)
    if quant not in QUANTIZATIONS:
        raise ProfileError(f"{where}: quantization must be one of {', '.join(QUANTIZATIONS)}, got {quant!r}")
    threads = _req(eng, "threads", int, where)
    ctx = _req(eng, "context_length", int, where)
    max_new = _req(eng, "max_new_tokens", int, where)
    if threads < 1 or ctx < 128 or not (1 <= max_new < ctx):
        raise ProfileError(f"{where}: need threads >= 1, context_length >= 128, 1 <= max_new_tokens < context_length")
    precision = _req(mem, "index_precision", str, where)
    if precision not in INDEX_PRECISIONS:
        raise ProfileError(f"{where}: index_precision must be one of {', '.join(INDEX_PRECISIONS)}")
    capacity = _req(mem, "short_term_capacity", int, where)
    budget = _req(mem, "rss_budget_mb", int, where)
    if capacity < 1 or budget < 64:
        raise ProfileError(f"{where}: need short_term_capacity >= 1 and rss_budget_mb >= 64")
    rehearsal = mem.get("rehearsal", "rules")
    if rehearsal not in REHEARSALS:
        raise ProfileError(f"{where}: rehearsal must be one of {', '.join(REHEARSALS)}, got {rehearsal!r}")
    embedder = mem.get("embedder", "minilm-l6")
    if embedder not in EMBEDDERS:
        raise ProfileError(f"{where}: embedder must be one of {', '.join(EMBEDDERS)}, got {embedder!r}")
    serve = data.get("serve", {})
    identify = serve.get("identify", "number")
    if identify not in IDENTIFY_MODES:
        raise ProfileError(f"{where}: identify must be one of {', '.join(IDENTIFY_MODES)}, got {identify!r}")
    d_ppl, d_agree = DEFAULT_GATE[quant]
    max_ppl = float(gate.get("max_ppl_increase", d_ppl))
    min_agree = float(gate.get("min_agreement", d_agree))
    if not (0 <= max_ppl <= 1 and 0 <= min_agree <= 1):
        raise ProfileError(f"{where}: gate values must lie in [0, 1]")
    detect = {k: v for k, v in dev.items() if k in ("device_tree_model", "tegra_release", "cpu_count")}
    return Profile(
        name=str(dev.get("name", name)),
        description=str(dev.get("description", "")),
        path=path,
        providers=tuple(providers),
        threads=threads,
        quantization=quant,
        context_length=ctx,
        max_new_tokens=max_new,
        arena=bool(eng.get("arena", True)),
        short_term_capacity=capacity,
        index_precision=precision,
        rss_budget_mb=budget,
        max_ppl_increase=max_ppl,
        min_agreement=min_agree,
        emergency_number=str(safety.get("emergency_number", "112")),
        detect=detect,
        rehearsal=rehearsal,
        embedder=embedder,
        identify=identify,
        production=bool(serve.get("production", False)),
    )


def load(name_or_path: str | os.PathLike[str], home: Path | None = None) -> Profile:
    """Load a profile by name (``pi-5``) or by path to a TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        path = p
    else:
        known = available(home)
        if str(name_or_path) not in known:
            raise ProfileError(
                f"no firmware profile {str(name_or_path)!r}; known: {', '.join(known) or 'none'}"
            )
        path = known[str(name_or_path)]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"profile file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: not valid TOML ({e})") from None
    return parse(data, name=path.stem, path=path)


# ---------------------------------------------------------------- board detection

ENV_PROFILE = "EDGEMEM_PROFILE"
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
TEGRA_RELEASE = Path("/etc/nv_tegra_release")
FALLBACK = "x86-kiosk"


@dataclass(frozen=True)
class Detection:
    """Which profile this device gets, and why (shown by ``edgemem profiles``)."""

    name: str
    reason: str
    board: str | None


CPUINFO = Path("/proc/cpuinfo")


def cpu_hint(detected: str, cpuinfo: Path = CPUINFO) -> str | None:
    """Advice for a generic x86 kiosk whose CPU has AVX2 but no VNNI, or None.

    Why a hint and not a switch: on such a CPU the int4-gptq build (``x86-avx2``) decodes faster
    than int8 (whose int8-activation kernel needs VNNI) but keeps a smaller quality margin, so the
    vendor chooses (docs/engine.md, "int4-gptq on the AVX2 machine").
    """
    if detected != FALLBACK:
        return None
    text = _read_text(cpuinfo)
    if not text:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    if "avx2" in flags and not flags & {"avx512_vnni", "avx_vnni"}:
        return ("this CPU has AVX2 but no VNNI: profile x86-avx2 (int4-gptq and a one-layer student "
                "embedder; EDGEMEM_PROFILE=x86-avx2 or --profile) decodes faster here than int8 and imports "
                "memory ~3x faster, with smaller quality margins (docs/engine.md, docs/memory.md)")
    return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().rstrip(b"\x00\n").decode("utf-8", "replace")
    except OSError:
        return None


def detect(home: Path | None = None, *, device_tree_model: Path = DEVICE_TREE_MODEL,
           tegra_release: Path = TEGRA_RELEASE, cpu_count: int | None = None,
           env: dict[str, str] | None = None) -> Detection:
    """Pick the profile for this board.

    Order: ``EDGEMEM_PROFILE`` (an explicit override always wins), then the device-tree model
    string (Raspberry Pi, Jetson), then the Tegra release file (Jetson without a matching model
    string), then the CPU count among profiles that declare one, then the generic x86 kiosk.
    The file paths are parameters so tests can present any board.
    """
    env = dict(os.environ) if env is None else env
    override = env.get(ENV_PROFILE)
    if override:
        load(override, home)  # validates the name now, with a clear error
        return Detection(override, f"{ENV_PROFILE}={override}", None)
    profiles = {name: load(path, home) for name, path in available(home).items()}
    model = _read_text(device_tree_model)
    if model:
        for name, prof in profiles.items():
            needle = prof.detect.get("device_tree_model")
            if needle and str(needle).lower() in model.lower():
                return Detection(name, f"device-tree model {model!r}", model)
    if tegra_release.exists():
        for name, prof in profiles.items():
            if prof.detect.get("tegra_release"):
                return Detection(name, f"{tegra_release} present", _read_text(tegra_release))
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if not model:
        # Not an SBC: among profiles without board markers, the one whose CPU count fits best.
        generic = {n: p for n, p in profiles.items() if not p.detect.get("device_tree_model") and not p.detect.get("tegra_release")}
        # Ties go to the generic kiosk: x86-avx2 declares no markers either, and is chosen by hand.
        fitting = sorted((p.detect.get("cpu_count", 0), n == FALLBACK, n) for n, p in generic.items()
                         if p.detect.get("cpu_count", 0) <= cpus)
        if fitting:
            return Detection(fitting[-1][2], f"{cpus} CPUs, no board markers", None)
    fallback = FALLBACK if FALLBACK in profiles else next(iter(profiles), FALLBACK)
    return Detection(fallback, "no board matched; generic default", model)


def resolve(explicit: "str | Profile | None" = None, home: Path | None = None) -> Profile:
    """The profile to run with: an explicit name/path/Profile, else ``detect()``."""
    if isinstance(explicit, Profile):
        return explicit
    if explicit:
        return load(explicit, home)
    return load(detect(home).name, home)
