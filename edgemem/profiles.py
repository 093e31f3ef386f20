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
KV_DTYPES = ("float32", "float16")
# CPU classes a profile's measured speed is recorded for (``cpu_class``).
CPU_CLASSES = ("avx2", "avx2-vnni", "avx512-vnni", "arm-dotprod", "arm")
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
    # The KV cache's type in bundles built for this profile (export.onnx_graph): float16 halves
    # the one state that grows with the conversation (a 512 MB board's choice).
    kv_dtype: str = "float32"
    # Padded tokens per embedder run: onnxruntime's arena keeps the largest run's buffers
    # (attention scores grow with batch x length^2), so this bounds the embedder's working set.
    embed_batch_tokens: int = 4096
    # Measured speed per CPU class (``[device.measured.<class>]``: decode_vs_llama_cpp,
    # gate_passed, source): what detection ranks generic profiles by (``detect``).
    measured: dict[str, dict[str, Any]] = field(default_factory=dict)
    # How the kiosk knows who is at the screen ([serve] identify): "number" (the number alone:
    # anyone who knows it gets in; unsafe outside a staffed desk), "number+pin", "number+dob" or
    # "badge" (serve.identify). ``production``: refuse bundles signed by a key whose private half
    # is on this device.
    identify: str = "number"
    production: bool = False
    # Seconds a client may take to send a request's headers ([serve] header_timeout_s): a kiosk's
    # browser sends them in a millisecond; a client that trickles them is cut off (slowloris).
    header_timeout_s: float = 10.0
    # Under ``production``: serve a bundle this device merged from a vendor-signed base and a
    # vendor-signed adapter update once its origin checks out ("verified", sync.provenance), or
    # never ("refuse": only full vendor-signed bundles run).
    device_merges: str = "verified"

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
    kv_dtype = eng.get("kv_dtype", "float32")
    if kv_dtype not in KV_DTYPES:
        raise ProfileError(f"{where}: kv_dtype must be one of {', '.join(KV_DTYPES)}, got {kv_dtype!r}")
    batch_tokens = mem.get("embed_batch_tokens", 4096)
    if not isinstance(batch_tokens, int) or isinstance(batch_tokens, bool) or batch_tokens < 256:
        raise ProfileError(f"{where}: embed_batch_tokens must be an integer >= 256, got {batch_tokens!r}")
    serve = data.get("serve", {})
    identify = serve.get("identify", "number")
    if identify not in IDENTIFY_MODES:
        raise ProfileError(f"{where}: identify must be one of {', '.join(IDENTIFY_MODES)}, got {identify!r}")
    header_timeout = serve.get("header_timeout_s", 10.0)
    if not isinstance(header_timeout, (int, float)) or isinstance(header_timeout, bool) or not 0 < header_timeout <= 3600:
        raise ProfileError(f"{where}: header_timeout_s must be a number of seconds in (0, 3600], got {header_timeout!r}")
    device_merges = serve.get("device_merges", "verified")
    if device_merges not in ("verified", "refuse"):
        raise ProfileError(f"{where}: device_merges must be \"verified\" or \"refuse\", got {device_merges!r}")
    d_ppl, d_agree = DEFAULT_GATE[quant]
    max_ppl = float(gate.get("max_ppl_increase", d_ppl))
    min_agree = float(gate.get("min_agreement", d_agree))
    if not (0 <= max_ppl <= 1 and 0 <= min_agree <= 1):
        raise ProfileError(f"{where}: gate values must lie in [0, 1]")
    detect = {k: v for k, v in dev.items() if k in ("device_tree_model", "tegra_release", "cpu_count")}
    measured: dict[str, dict[str, Any]] = {}
    for cls, row in (dev.get("measured") or {}).items():
        if cls not in CPU_CLASSES or not isinstance(row, dict):
            raise ProfileError(f"{where}: [device.measured.{cls}] must name a CPU class from {', '.join(CPU_CLASSES)}")
        ratio = row.get("decode_vs_llama_cpp")
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or ratio <= 0:
            raise ProfileError(f"{where}: [device.measured.{cls}] needs decode_vs_llama_cpp > 0")
        measured[cls] = {"decode_vs_llama_cpp": float(ratio), "gate_passed": bool(row.get("gate_passed", False)),
                         "source": str(row.get("source", ""))}
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
        kv_dtype=kv_dtype,
        embed_batch_tokens=batch_tokens,
        measured=measured,
        identify=identify,
        production=bool(serve.get("production", False)),
        header_timeout_s=float(header_timeout),
        device_merges=device_merges,
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
    # Generic profiles ranked for this CPU: (name, decode vs llama.cpp, gate passed), best first.
    ranking: tuple[tuple[str, float, bool], ...] = ()
    cpu_class: str | None = None


CPUINFO = Path("/proc/cpuinfo")
CPU_CLASS_TEXT = {"avx2": "AVX2 without VNNI", "avx2-vnni": "AVX2 with AVX-VNNI", "avx512-vnni": "AVX-512 VNNI",
                  "arm-dotprod": "Arm with dot-product", "arm": "Arm without dot-product"}


def _cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    text = _read_text(cpuinfo) or ""
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.partition(":")[2].split())
    return set()


def cpu_class(cpuinfo: Path = CPUINFO) -> str | None:
    """The CPU class measured speeds are recorded for, from /proc/cpuinfo; None if unknown.

    Why classes and not models: which build decodes fastest follows the kernels onnxruntime has
    for the CPU (int8 activations need VNNI or Arm's dot product to beat 4-bit weights)."""
    flags = _cpu_flags(cpuinfo)
    if "avx512_vnni" in flags:
        return "avx512-vnni"
    if "avx2" in flags:
        return "avx2-vnni" if "avx_vnni" in flags else "avx2"
    if "asimd" in flags:
        return "arm-dotprod" if "asimddp" in flags else "arm"
    return None


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
           env: dict[str, str] | None = None, cpuinfo: Path = CPUINFO) -> Detection:
    """Pick the profile for this board.

    Order: ``EDGEMEM_PROFILE`` (an explicit override always wins), then the device-tree model
    string (Raspberry Pi, Jetson), then the Tegra release file (Jetson without a matching model
    string), then, among generic profiles whose CPU count fits, the one measured fastest within
    its quality gate on this CPU class (``[device.measured.<class>]``), else the best CPU-count
    fit, then the generic x86 kiosk.
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
        cls = cpu_class(cpuinfo)
        ranked = sorted(((n, generic[n].measured[cls]["decode_vs_llama_cpp"], generic[n].measured[cls]["gate_passed"])
                         for _, _, n in fitting if cls and cls in generic[n].measured),
                        key=lambda r: (r[2], r[1], r[0] == FALLBACK), reverse=True)
        if ranked and ranked[0][2]:
            best = ranked[0]
            others = ", ".join(f"{n} {r:.2f}x{'' if ok else ' (gate failed)'}" for n, r, ok in ranked[1:])
            return Detection(best[0], f"{cpus} CPUs, {CPU_CLASS_TEXT[cls]}: fastest measured within its quality gate "
                                      f"(decode {best[1]:.2f}x llama.cpp{'; ' + others if others else ''}; "
                                      f"{generic[best[0]].measured[cls]['source']})", None, tuple(ranked), cls)
        if fitting:
            return Detection(fitting[-1][2], f"{cpus} CPUs, no board markers", None)
    fallback = FALLBACK if FALLBACK in profiles else next(iter(profiles), FALLBACK)
    return Detection(fallback, "no board matched; generic default", model)


# Quantizations whose bundle build runs a calibration pass over the base model (GPTQ: layer
# inputs through the fp32 model, then column-by-column rounding), on top of what every build does.
CALIBRATED_BUILDS = ("int4-gptq",)


@dataclass(frozen=True)
class FirstStart:
    """The profile a device's first start builds its bundle for, and the one it could move to.

    ``upgrade`` is the detected profile when the first start builds another (None otherwise)."""

    name: str
    reason: str
    upgrade: str | None = None


def first_start(detection: Detection, home: Path | None = None) -> FirstStart:
    """What ``scripts/kiosk`` builds when a home has no bundle yet.

    Why not always the detected profile: a clinic installing a kiosk wants it answering within
    minutes, and the detected profile can be one whose build adds GPTQ calibration and a gate whose
    margin depends on the CPU (x86-avx2's int4-gptq: 93.4 % agreement on the AMD EPYC it was
    measured on, 89.6 % against a 90 % limit on an Intel Xeon: a long build that ends with no
    bundle). So a generic x86 box whose detected build is calibrated starts on the generic kiosk's
    build (int8, no calibration, wide gate margin) and is told how to build the faster one when it
    is idle (docs/engine.md, "A fresh clone's first start"). An explicit ``EDGEMEM_PROFILE`` and a
    detected board (Pi, Jetson) are built as they are.
    """
    detected = load(detection.name, home)
    if (detection.reason.startswith(ENV_PROFILE) or detection.board is not None
            or detected.quantization not in CALIBRATED_BUILDS or detection.name == FALLBACK):
        return FirstStart(detection.name, "the detected profile")
    try:
        quick = load(FALLBACK, home)
    except ProfileError:
        return FirstStart(detection.name, "the detected profile (no generic kiosk profile to start on)")
    if quick.quantization in CALIBRATED_BUILDS:
        return FirstStart(detection.name, "the detected profile (the generic kiosk's build is calibrated too)")
    return FirstStart(FALLBACK, f"{detection.name}'s {detected.quantization} build adds GPTQ calibration and a "
                                f"CPU-dependent gate margin; {FALLBACK} ({quick.quantization}) builds without, and "
                                f"{detection.name} can follow when the kiosk is idle", detection.name)


def resolve(explicit: "str | Profile | None" = None, home: Path | None = None) -> Profile:
    """The profile to run with: an explicit name/path/Profile, else ``detect()``."""
    if isinstance(explicit, Profile):
        return explicit
    if explicit:
        return load(explicit, home)
    return load(detect(home).name, home)
