"""``edgemem serve``: the kiosk page and the OpenAI-compatible API, on loopback by default."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EdgememError
from .main import home_of


def resolve_profile(name: str | None, home: "object"):  # -> Profile
    """The named profile, else the detected board's (``EDGEMEM_PROFILE`` wins there)."""
    from .. import profiles

    root = getattr(home, "root", None)
    if name:
        return profiles.load(name, root)
    return profiles.load(profiles.detect(root).name, root)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Keep loopback unless a firewall protects the device.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--bundle", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Serve this bundle instead of the active A/B slot (no hot reload then).")
@click.option("--profile", "profile_name", help="Firmware profile name or TOML path (default: detected).")
@click.option("--queue-size", default=4, show_default=True, type=click.IntRange(0, 1000),
              help="Requests that may wait behind the running generation; beyond that, 429.")
@click.option("--timeout", "timeout_s", default=120.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds one request may take, waiting in line included.")
@click.option("--header-timeout", "header_timeout_s", type=click.FloatRange(0.1, 3600),
              help="Seconds a client may take to send a request's headers, then 408 and close "
                   "(slowloris guard). Default: the profile's [serve] header_timeout_s, else 10.")
@click.option("--idle-timeout", "idle_s", default=600.0, show_default=True, type=click.FloatRange(5, 86400),
              help="End a patient session after this many idle seconds.")
@click.option("--max-body", default=64 * 1024, show_default=True, type=click.IntRange(1024, 10 * 2**20),
              help="Largest accepted request body in bytes.")
@click.option("--prompt-budget", default=1024, show_default=True, type=click.IntRange(64, 1 << 20),
              help="Prompt tokens the memory may fill; smaller means a faster first token.")
@click.option("--no-kiosk", is_flag=True, help="API only: no page, sessions need the admin token.")
@click.option("--allow-host", multiple=True, help="Extra Host header value to accept (repeatable).")
@click.option("--report-timing", is_flag=True,
              help="Benchmarks only: send cached_tokens and timings to every caller (they reveal "
                   "what the engine had cached); by default only the admin token sees them.")
@click.option("--allow-device-signed", is_flag=True,
              help="Under a production profile, still serve a bundle signed by a key whose private "
                   "half is on this device (development set-ups only).")
@click.option("--print-token", is_flag=True, help="Print the local admin token (created if missing) and exit.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, bundle: Path | None, profile_name: str | None,
          queue_size: int, timeout_s: float, header_timeout_s: float | None, idle_s: float, max_body: int, prompt_budget: int, no_kiosk: bool,
          allow_host: tuple[str, ...], report_timing: bool, allow_device_signed: bool,
          print_token: bool) -> None:
    """Serve the kiosk page and the OpenAI-compatible API (docs/deploy.md)."""
    from ..serve.config import ServeConfig
    from ..serve.tokens import load_or_create_admin_token

    home = home_of(ctx)
    if print_token:
        click.echo(load_or_create_admin_token(home))
        return
    profile = resolve_profile(profile_name, home)
    if bundle is not None and not (bundle / "manifest.json").exists():
        raise EdgememError(f"{bundle} is not a bundle (no manifest.json)")
    config = ServeConfig(host=host, port=port, queue_size=queue_size, max_body_bytes=max_body,
                         request_timeout_s=timeout_s, header_timeout_s=header_timeout_s, session_idle_s=idle_s, kiosk=not no_kiosk,
                         prompt_budget=prompt_budget,
                         allowed_hosts=allow_host, report_timing=report_timing,
                         allow_device_signed=allow_device_signed)
    from ..serve.runtime import Runtime
    from ..serve.server import serve_forever

    runtime = Runtime(home.ensure(), config, profile, bundle=bundle)
    page = f"kiosk page http://{host}:{port}/" if config.kiosk else "kiosk page disabled"
    click.echo(f"edgemem serve: {page}, API http://{host}:{port}/v1, profile {profile.name}", err=True)
    serve_forever(runtime)
