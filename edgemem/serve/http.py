"""Small HTTP helpers every route uses: errors in OpenAI's shape, bounded bodies, bearer tokens.

Errors look like OpenAI's (``{"error": {"message", "type", "code"}}``) so the ``openai`` client
raises its usual exceptions with our one-line message; no route ever answers with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from ..errors import EdgememError


# A chat request is a list of messages of text parts: four levels. Anything far deeper is an attack.
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 20
# Seconds a request body may take to arrive in full (a chat request is a few KB).
BODY_TIMEOUT_S = 10.0


class HTTPError(EdgememError):
    """An expected failure with its status code (and optional Retry-After)."""

    def __init__(self, status: int, message: str, code: str = "invalid_request",
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


def error_response(status: int, message: str, code: str = "invalid_request",
                   retry_after: int | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}},
                        status_code=status, headers=headers)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, refusing more than ``limit`` bytes before reading them."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPError(413, f"request body larger than {limit} bytes", "too_large")
        except ValueError:
            raise HTTPError(400, "bad Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    deadline = time.monotonic() + BODY_TIMEOUT_S
    try:
        while True:
            # A client that sends its body slowly or never holds a connection and a handler:
            # the whole body must arrive within BODY_TIMEOUT_S (the review held 200 open).
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - time.monotonic()))
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise HTTPError(408, f"the request body did not arrive within {BODY_TIMEOUT_S:g} s",
                                "body_timeout") from None
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, f"request body larger than {limit} bytes", "too_large")
            chunks.append(chunk)
    except ClientDisconnect:  # the client left mid-body: nobody to answer, nothing to log
        raise HTTPError(400, "client disconnected while sending the body", "disconnected") from None
    raw = b"".join(chunks)
    if not raw:
        return {}
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise HTTPError(400, "request body must be a JSON object")
    return data


def _bounded_int(text: str) -> int:
    # Python refuses to parse more than 4,300 digits with a ValueError (a 500 before); no field
    # here needs more than a 64-bit integer.
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"integers longer than {MAX_INT_DIGITS} digits are not accepted")
    return int(text)


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


class _Refused(ValueError):
    pass


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value``, stopping once it passes ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(raw: bytes) -> Any:
    """A request body as JSON within the server's limits; every refusal is a one-line 400.

    Bounded on purpose: ``[`` 20,000 times exhausted Python's recursion and a 5,000-digit integer
    hit its digit limit, both answered with a 500 and a traceback in the log."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_int=_bounded_int, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise HTTPError(400, "request body is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise HTTPError(400, f"request body is not JSON ({e.msg} at {e.pos})") from None
    except _Refused as e:
        raise HTTPError(400, f"request body refused: {e}") from None
    except RecursionError:
        raise HTTPError(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels", "too_deep") from None
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise HTTPError(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels", "too_deep")
    return data


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def memory_id(raw: str) -> int:
    """A memory id from a URL: a positive decimal integer (``abc``, ``²`` and ``--5`` were 500s)."""
    if not (0 < len(raw) <= 18 and raw.isascii() and raw.isdigit()):
        raise HTTPError(400, "memory id must be a positive integer", "bad_memory_id")
    return int(raw)


def patient_id(value: Any) -> str:
    """A patient number or badge code: 1-64 printable characters, surrounding space dropped."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise HTTPError(400, "patient must be a patient number or badge code", "bad_patient")
    text = str(value).strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise HTTPError(400, "patient must be 1-64 printable characters", "bad_patient")
    return text
