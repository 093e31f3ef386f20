"""The kiosk page in Debian's Chromium (headless, driven by Playwright) against a real server.

A whole patient session at 800x480 (the 7-inch touch screen) and 1920x1080: start with a patient
number, type, watch the reply stream in, end the session, come back and find the memory in "What
I remember about you", delete it, then "forget me". Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from serve_helpers import Kiosk, running_kiosk

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
SIZES = [(800, 480), (1920, 1080)]

# Counts how many times the reply bubble's text changed while it streamed in.
WATCH_STREAM = """() => {
  window.__updates = 0;
  new MutationObserver((ms) => {
    for (const m of ms) {
      const li = (m.target.nodeType === 3 ? m.target.parentNode : m.target).closest('li.msg.assistant');
      if (li && !li.dataset.done) window.__updates++;
    }
  }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
}"""


def _missing(why: str) -> None:
    """Skip on a laptop without a browser; fail in CI, where EDGEMEM_REQUIRE_BROWSER=1 is set."""
    if os.environ.get("EDGEMEM_REQUIRE_BROWSER"):
        pytest.fail(why + " (EDGEMEM_REQUIRE_BROWSER is set)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def kiosk(_tiny_bundle_built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    with running_kiosk(_tiny_bundle_built, tmp_path_factory.mktemp("browser-home"), queue_size=2) as k:
        yield k


def shot(page: Any, name: str, size: tuple[int, int]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{size[0]}x{size[1]}.png"))


def start(page: Any, patient: str) -> None:
    page.fill("#patient", patient)
    page.press("#patient", "Enter")
    page.wait_for_selector("#chat-view:not([hidden])")


def wait_until(page: Any, expression: str, timeout_s: float = 60.0) -> None:
    """Poll ``expression`` in the page. (``wait_for_function`` evaluates with eval, which the
    page's Content-Security-Policy rightly forbids; ``evaluate`` goes through the debugger.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.02)


def send(page: Any, text: str, n_done: int) -> dict[str, Any]:
    page.fill("#msg", text)
    page.press("#msg", "Enter")
    wait_until(page, f"window.edgemem.timings.length >= {n_done}")
    return page.evaluate(f"window.edgemem.timings[{n_done - 1}]")


def admin_memories(kiosk: Kiosk, patient: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{kiosk.url}/api/admin/patients/{patient}/memories", headers=kiosk.admin_headers())
    return r.json()["memories"]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_whole_patient_session(browser: Any, kiosk: Kiosk, size: tuple[int, int]) -> None:
    patient = f"47{size[0]}"
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(kiosk.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("document.activeElement.id") == "patient"  # ready for a badge scan
    shot(page, "1-start", size)

    # First visit: say something worth remembering; the reply streams in piece by piece.
    start(page, patient)
    page.evaluate(WATCH_STREAM)
    timing = send(page, "I am allergic to penicillin and I take metformin for diabetes.", 1)
    reply = page.inner_text("li.msg.assistant[data-done='1'] .text")
    assert reply and reply != "(no reply)"
    assert page.evaluate("window.__updates") > 1, "the reply must stream in, not arrive at once"
    assert timing["page_ttft_ms"] is not None and timing["page_ttft_ms"] <= timing["total_ms"]
    shot(page, "2-chat", size)
    page.click("#end")
    page.wait_for_selector("#start-view:not([hidden])")
    assert "Session ended" in page.inner_text("#status")

    # Second visit: the memory is there.
    start(page, patient)
    if size[0] < 960:
        page.click("#memory-toggle")
        page.wait_for_selector("#memory-panel.open")
    item = page.locator("#memories li", has_text="penicillin").first
    item.wait_for(timeout=15_000)
    shot(page, "3-memories", size)
    memory_id = item.get_attribute("data-id")
    assert any(str(m["memory_id"]) == memory_id for m in admin_memories(kiosk, patient))

    item.get_by_role("button").click()
    page.wait_for_selector(f"#memories li[data-id='{memory_id}']", state="detached")
    assert all(str(m["memory_id"]) != memory_id for m in admin_memories(kiosk, patient))

    # Forget me, with confirmation.
    page.click("#forget")
    page.wait_for_selector("#forget-dialog[open]")
    shot(page, "4-forget-confirm", size)
    page.click("#forget-confirm")
    page.wait_for_selector("#start-view:not([hidden])")
    assert "forgotten" in page.inner_text("#status")
    assert admin_memories(kiosk, patient) == []
    assert not errors, errors
    page.close()


def test_emergency_banner_and_accessibility(browser: Any, kiosk: Kiosk) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 480})
    page.goto(kiosk.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    # Every control has an accessible name; the conversation is a live log.
    assert page.get_by_label("Patient number or badge").count() == 1
    start(page, "5150")
    assert page.get_attribute("#log", "role") == "log"
    assert page.get_by_label("Your message").count() == 1
    send(page, "My husband collapsed and is not breathing", 1)
    banner = page.locator("#emergency")
    assert banner.is_visible()
    assert "112" in banner.inner_text()
    assert page.get_attribute("#emergency", "role") == "alert"
    assert page.evaluate("document.activeElement.id") == "emergency-close"
    shot(page, "5-emergency", (800, 480))
    page.click("#emergency-close")
    assert not banner.is_visible()

    # Large text is a toggle that grows the text and says it is pressed.
    before = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("#large-text")
    after = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert after > before and page.get_attribute("#large-text", "aria-pressed") == "true"
    shot(page, "6-large-text", (800, 480))
    page.click("#large-text")
    # Keyboard only: Tab from the message box reaches Send.
    page.focus("#msg")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    page.click("#end")
    page.close()


def test_page_weight_and_local_assets_only(browser: Any, kiosk: Kiosk) -> None:
    page = browser.new_page()
    sizes: dict[str, int] = {}
    foreign: list[str] = []

    def on_response(r: Any) -> None:
        if not r.url.startswith(kiosk.url):
            foreign.append(r.url)
        elif "/api/" not in r.url:
            sizes[r.url] = len(r.body())

    page.on("response", on_response)
    page.goto(kiosk.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    assert not foreign
    assert 0 < sum(sizes.values()) <= 200 * 1024, sizes
    csp = httpx.get(kiosk.url + "/").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    page.close()


def test_page_says_why_it_cannot_start(browser: Any, tmp_path: Path) -> None:
    """No bundle applied yet: the page explains instead of failing, and no session can start."""
    from edgemem.home import Home
    from edgemem.profiles import load
    from edgemem.serve.config import ServeConfig
    from edgemem.serve.runtime import Runtime
    from edgemem.serve.server import BackgroundServer, free_port

    runtime = Runtime(Home(tmp_path / "home").ensure(), ServeConfig(port=free_port()), load("x86-kiosk"))
    with BackgroundServer(runtime) as url:
        assert httpx.get(url + "/readyz").status_code == 503
        page = browser.new_page(viewport={"width": 800, "height": 480})
        page.goto(url + "/")
        wait_until(page, "document.getElementById('status').textContent.includes('not available')", 10)
        page.fill("#patient", "1234")
        page.press("#patient", "Enter")
        wait_until(page, "document.getElementById('start-error').textContent.length > 0", 10)
        assert page.is_visible("#start-view")
        shot(page, "0-not-ready", (800, 480))
        page.close()


def _visible_in(page: Any, selector: str, size: tuple[int, int]) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size[1]


def _start_error(page: Any, contains: str) -> str:
    wait_until(page, f"document.getElementById('start-error').textContent.includes({contains!r})", 20)
    return page.inner_text("#start-error")


def test_pin_sign_in_first_visit_later_visit_and_lockout(browser: Any, _tiny_bundle_built: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    """``identify = "number+pin"`` at 800x480: the first visit sets the PIN typed twice (a typo
    sets nothing), a later visit asks for it, and wrong PINs, the backoff and the lockout are
    said in plain words."""
    size = (800, 480)
    with running_kiosk(_tiny_bundle_built, tmp_path / "home", identify="number+pin", identify_backoff_s=1.0,
                       identify_max_failures=3, identify_lockout_s=60) as k:
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(k.url + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert page.is_visible("#secret") and page.inner_text("#secret-label") == "PIN"
        assert page.get_attribute("#secret", "type") == "password" and not page.is_visible("#secret-again")

        # First visit: the PIN alone sets nothing; the page asks for it twice.
        page.fill("#patient", "7001")
        page.fill("#secret", "4821")
        page.press("#secret", "Enter")
        assert "first visit" in _start_error(page, "first visit")
        assert page.is_visible("#secret-again") and page.evaluate("document.activeElement.id") == "secret-again"
        shot(page, "7-pin-first-visit", size)
        assert _visible_in(page, "#start", size) and _visible_in(page, "#start-error", size)
        page.fill("#secret-again", "4822")  # a typo
        page.press("#secret-again", "Enter")
        assert "not the same" in _start_error(page, "not the same")
        assert not (k.runtime.home.root / "identify.json").exists()  # nothing was set
        page.fill("#secret", "4821")
        page.fill("#secret-again", "4821")
        page.press("#secret-again", "Enter")
        page.wait_for_selector("#chat-view:not([hidden])")
        page.click("#end")
        page.wait_for_selector("#start-view:not([hidden])")

        # A later visit: the PIN once, straight in.
        page.fill("#patient", "7001")
        assert not page.is_visible("#secret-again")
        page.fill("#secret", "4821")
        page.press("#secret", "Enter")
        page.wait_for_selector("#chat-view:not([hidden])")
        page.click("#end")
        page.wait_for_selector("#start-view:not([hidden])")

        # Wrong PINs: said plainly, then a wait the Start button counts down, then a lockout.
        page.fill("#patient", "7001")
        page.fill("#secret", "1111")
        page.press("#secret", "Enter")
        assert "does not match this patient number" in _start_error(page, "does not match")
        page.fill("#secret", "2222")
        page.press("#secret", "Enter")
        assert "Please wait" in _start_error(page, "Please wait")
        assert page.is_disabled("#start") and page.inner_text("#start").startswith("Wait")
        shot(page, "8-pin-wait", size)
        wait_until(page, "!document.getElementById('start').disabled", 10)
        page.fill("#secret", "3333")  # the second failure: the next try must wait 2 s
        page.press("#secret", "Enter")
        _start_error(page, "does not match")
        time.sleep(2.3)
        page.fill("#secret", "4444")  # the third: locked
        page.press("#secret", "Enter")
        wait_until(page, "!document.getElementById('start').disabled", 20)
        page.fill("#secret", "4821")  # the right PIN, but the number is locked now
        page.press("#secret", "Enter")
        text = _start_error(page, "locked")
        assert "ask a member of staff" in text and "\n" not in text
        assert not page.is_disabled("#start")  # the next patient is not kept waiting
        assert _visible_in(page, "#start-error", size)
        shot(page, "9-pin-locked", size)
        assert not errors, errors
        page.close()
