"""Server settings, with defaults that suit a kiosk on loopback.

Everything a deployment may want to tune sits here, so the CLI, the tests and a vendor's own
launcher build the same object; docs/deploy.md says what to change per firmware profile.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    # Requests allowed to wait behind the running generation before new ones get 429.
    queue_size: int = 4
    # A chat request is a few KB; anything near this limit is a mistake or an attack.
    max_body_bytes: int = 64 * 1024
    # Seconds a client may take to send a request's headers (serve.header_timeout: slowloris);
    # None: the profile's ``[serve] header_timeout_s`` (10 s by default).
    header_timeout_s: float | None = None
    # Wall-clock limit of one request, waiting in line included.
    request_timeout_s: float = 120.0
    # A patient who walks away: the session ends (and consolidates) after this much quiet.
    session_idle_s: float = 600.0
    # Serve the kiosk page and let it start patient sessions without the admin token.
    kiosk: bool = True
    # Extra Host header values to accept (DNS-rebinding guard); loopback names always pass.
    allowed_hosts: tuple[str, ...] = ()
    # Prompt tokens the memory may fill (system, what it remembers, recent turns): the first token
    # waits for the whole prompt's prefill, so a kiosk keeps it well below the window.
    prompt_budget: int = 1024
    # Name reported by /v1/models and echoed in completions.
    model_id: str = "edgemem"
    # Benchmarks only: send ``cached_tokens`` and ``edgemem.timing`` to every caller, not just the
    # admin token. Both tell how much of a prompt the engine had cached, i.e. what the last
    # caller's prompt began with (a patient's facts), so a kiosk keeps this off.
    report_timing: bool = False
    # Under a ``production = true`` profile, serve a bundle signed by a key whose private half is
    # on this device anyway (``--allow-device-signed``): a development or test set-up.
    allow_device_signed: bool = False
    # Patient identification (serve.identify); None: the profile's ``[serve] identify``.
    identify: str | None = None
    # Failed identifications: backoff base (s), lockout per patient, and a kiosk-wide limit.
    identify_backoff_s: float = 1.0
    identify_max_failures: int = 5
    identify_lockout_s: float = 900.0
    identify_kiosk_max_failures: int = 20
    identify_kiosk_window_s: float = 600.0
