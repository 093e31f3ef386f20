"""A deadline on each request's head: a client must finish sending its headers in time.

uvicorn (0.55) has no header-read timeout. ``timeout_keep_alive`` starts only when a response is
complete, and every byte received cancels it (``_unset_keepalive_if_required`` is the first line
of ``data_received``), so a connection that never sends a full head, or trickles it a byte at a
time, is held open for ever: the review kept 200 half-sent requests open (slowloris). An ASGI
middleware cannot help, since the app sees a request only once its head has been parsed.

``HeaderDeadlineProtocol`` is uvicorn's h11 protocol with one timer more. It is armed when a
connection opens and again when a response completes (the connection then waits for its next
request's head), and disarmed as soon as a request's head has been parsed, so the time a reply
takes (a streamed chat may run a minute) is never counted. When it fires, a connection that had
sent part of a head gets ``408 Request Timeout`` and is closed; one that sent nothing is closed.
The body has its own limit (``http.BODY_TIMEOUT_S``, a 408 from the route).

The h11 protocol is chosen explicitly (uvicorn's ``auto`` would pick httptools where installed):
one parser, the one this timer is written against, on every device.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("edgemem.serve")

DEFAULT_HEADER_TIMEOUT_S = 10.0
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"connection: close\r\ncontent-length: 37\r\n\r\n"
                    b"the request headers did not arrive.\r\n")


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header-read deadline (``header_timeout_s`` seconds)."""

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def _awaiting_head(self) -> bool:
        """No request is being handled: the next bytes are (part of) a new request's head."""
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_deadline is not None:
            self._head_bytes += len(data)
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if not self._awaiting_head():  # a head was parsed: its request runs without this timer
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request (handle_events disarms)
        if not self.transport.is_closing() and self._awaiting_head():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or not self._awaiting_head():
            return
        if self._head_bytes:
            log.info("closed a connection whose request headers took over %g s", self.header_timeout_s)
            self.transport.write(TIMEOUT_RESPONSE)
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass
        self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's ``http=`` with this deadline (a class per server, since
    uvicorn builds each connection's protocol from the class alone)."""
    if not seconds > 0:
        raise ValueError(f"header timeout must be > 0 s, got {seconds!r}")
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": float(seconds)})
