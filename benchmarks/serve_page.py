"""The kiosk page in a real browser: page weight, and send -> first token seen vs the engine's own.

Starts ``edgemem serve`` on a free loopback port, opens the page in Debian's Chromium (headless,
through Playwright), starts a patient session and sends ``--turns`` messages. For every reply the
page records ``performance.now()`` from pressing Send to the first streamed token painted into the
reply, and the server reports, for the same request, the engine's time to first token (from the
engine call to its first piece) and the prompt assembly time. The overhead the kiosk adds is the
difference, taken per request in the same run. Page weight is every byte the page loads.

    python benchmarks/serve_page.py --bundle PATH [--turns 8] [--pause-s 3] --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


# Run as `python benchmarks/serve_page.py`: its sibling scripts are importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import start_server  # noqa: E402

EDGEMEM = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MESSAGES = [
    "Hello, I have had a headache since yesterday.",
    "I take metformin for my diabetes.",
    "Should I drink more water?",
    "I am allergic to penicillin.",
    "My knee hurts when I climb stairs.",
    "Can I take paracetamol with metformin?",
    "I sleep badly at night.",
    "Thank you, that helps.",
]


def median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 2) if xs else None


def main() -> None:
    from playwright.sync_api import sync_playwright


    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--trust", type=Path, action="append", default=[],
                    help="public key file (.pub) the bundle is signed with, trusted in the bench's home")
    ap.add_argument("--max-new-tokens", type=int, default=None,
                    help="cap replies (a copy of the profile with this max_new_tokens)")
    ap.add_argument("--pause-s", type=float, default=0.0,
                    help="seconds between a reply and the next message (a patient reading and typing; "
                         "the server prefills the next prompt meanwhile). 0: send at once, the worst case")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    home, url, env, proc = start_server(args, "edgemem-page-")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 800, "height": 480})
            loaded: dict[str, int] = {}

            def on_response(r: object) -> None:
                try:
                    loaded[r.url] = len(r.body())  # type: ignore[attr-defined]
                except Exception:
                    pass

            page.on("response", on_response)
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            weight = {u.replace(url, ""): n for u, n in loaded.items() if "/api/" not in u}
            page.fill("#patient", "bench-1")
            page.press("#patient", "Enter")
            page.wait_for_selector("#chat-view:not([hidden])")
            for i in range(args.turns):
                time.sleep(args.pause_s)
                page.fill("#msg", MESSAGES[i % len(MESSAGES)])
                page.press("#msg", "Enter")
                # Polled through evaluate: the page's CSP forbids the eval wait_for_function uses.
                t_end = time.monotonic() + 120
                while page.evaluate("window.edgemem.timings.length") < i + 1:
                    if time.monotonic() > t_end:
                        raise SystemExit("no reply within 120 s")
                    time.sleep(0.01)
            timings = page.evaluate("window.edgemem.timings")
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    # Every reply counts for what the patient sees; the engine's own figures exist only for replies
    # the model wrote (a reply composed from a card, an acknowledgement or small talk has none).
    seen = [t for t in timings if t.get("page_ttft_ms") is not None]
    rows = [t for t in seen if (t.get("server") or {}).get("engine_ttft_ms") is not None]
    page_ttft = [t["page_ttft_ms"] for t in seen]
    page_total = [t["total_ms"] for t in seen]
    engine_ttft = [t["server"]["engine_ttft_ms"] for t in rows]
    prepare = [t["server"].get("prepare_ms", 0.0) for t in rows]
    overhead = [t["page_ttft_ms"] - t["server"]["engine_ttft_ms"] for t in rows]
    transport = [o - p for o, p in zip(overhead, prepare)]
    result = {
        "turns": len(seen), "model_turns": len(rows), "pause_s": args.pause_s,
        "page_ttft_ms": [round(x, 1) for x in page_ttft],
        "page_ttft_ms_max": round(max(page_ttft), 1) if page_ttft else None,
        "page_total_ms": [round(x, 1) for x in page_total],
        "page_total_ms_median": median(page_total),
        "page_total_ms_max": round(max(page_total), 1) if page_total else None,
        "page_weight_bytes": sum(weight.values()), "page_files": weight,
        "page_ttft_ms_median": median(page_ttft), "engine_ttft_ms_median": median(engine_ttft),
        "overhead_ms_median": median(overhead), "overhead_ms_max": round(max(overhead), 2) if overhead else None,
        "prepare_ms_median": median(prepare),
        "prompt_tokens": [t["server"].get("prompt_tokens") for t in rows],
        "overhead_minus_prepare_ms_median": median(transport),
        "first_turn": seen[0] if seen else None,
        "target_page_ttft_ms": 400, "target_page_total_ms": 3000,
        "target_overhead_ms": 30, "target_page_weight_bytes": 200 * 1024,
    }
    if not args.json:
        print(f"page weight {result['page_weight_bytes']} B; send->first text in page "
              f"{result['page_ttft_ms_median']} ms median (max {result['page_ttft_ms_max']}), reply complete "
              f"{result['page_total_ms_median']} ms median (max {result['page_total_ms_max']}) over "
              f"{result['turns']} turns; model-written turns {result['model_turns']}: engine "
              f"{result['engine_ttft_ms_median']} ms "
              f"(overhead median {result['overhead_ms_median']} ms, of which prompt assembly "
              f"{result['prepare_ms_median']} ms)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
