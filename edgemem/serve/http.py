"""Small HTTP helpers every route uses: errors in OpenAI's shape, bounded bodies, bearer tokens.

Errors look like OpenAI's (``{"error": {"message", "type", "code"}}``) so the ``openai`` client
raises its usual exceptions with our one-line message; no route ever answers with a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import EdgememError


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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"request body larger than {limit} bytes", "too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise HTTPError(400, "request body is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise HTTPError(400, f"request body is not JSON ({e.msg} at {e.pos})") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "request body must be a JSON object")
    return data


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def patient_id(value: Any) -> str:
    """A patient number or badge code: 1-64 printable characters, surrounding space dropped."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise HTTPError(400, "patient must be a patient number or badge code", "bad_patient")
    text = str(value).strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise HTTPError(400, "patient must be 1-64 printable characters", "bad_patient")
    return text
