"""Errors in OpenAI's shape, and the ASGI middleware that limits bodies and checks API keys."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

log = logging.getLogger("promptism.server")


class APIError(Exception):
    TYPES = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        404: "invalid_request_error",
        413: "invalid_request_error",
        429: "requests",
        500: "server_error",
    }

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None, type_: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type_ or self.TYPES.get(status, "invalid_request_error")

    def response(self):
        from fastapi.responses import JSONResponse

        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = {"Retry-After": "5"} if self.status == 429 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    """The client stopped sending its body (a slow-read attack, or a broken client)."""


MAX_HEADERS = 100  # uvicorn accepts any number; browsers and OpenAI's client send about a dozen
MAX_HEADER_BYTES = 16 * 1024


class RequestGuard:
    """ASGI middleware: headers within limits, and an unexpected error answered as OpenAI's 500
    here rather than re-raised: a re-raised error makes the server close the keep-alive connection,
    and a pooled client's next request on it is reset."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope.get("headers") or []
        if len(headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            return await _send_error(
                send,
                APIError(
                    431,
                    f"the request's headers are too many or too large (at most {MAX_HEADERS} headers "
                    f"and {MAX_HEADER_BYTES:,} bytes)",
                    code="request_header_fields_too_large",
                ),
            )
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unexpected error")
            if not started:
                await _send_error(send, APIError(500, "the server hit an unexpected error; it is logged"))


class BodyLimit:
    """ASGI middleware: refuse request bodies over a byte limit, by Content-Length when given and
    by counting otherwise (a chunked upload is cut off when it passes the limit)."""

    def __init__(self, app, json_bytes: int, upload_bytes: int, read_timeout_s: float = 30.0):
        self.app, self.json_bytes, self.upload_bytes = app, json_bytes, upload_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.upload_bytes + 64 * 1024 if ctype.startswith("multipart/") else self.json_bytes
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False
            if too_big:
                return await _send_error(
                    send,
                    APIError(
                        413,
                        f"the request body is {int(length):,} bytes; at most {limit:,} are accepted",
                        code="request_too_large",
                    ),
                )
        seen, complete = 0, False

        async def counted():
            nonlocal seen, complete
            if complete:  # after the body, only a disconnect can come: no time limit on waiting for it
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout_s)
            except TimeoutError:
                raise BodyTimeout(f"the request body did not arrive within {self.read_timeout_s:g} s") from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"the request body passed {limit:,} bytes")
            return message

        return await self.app(scope, counted, send)


class BearerKeys:
    """ASGI middleware: the API, the history and the pictures need 'Authorization: Bearer KEY'.
    (Pure ASGI rather than an "http" middleware, so that routes still see a client leave.)"""

    PROTECTED = ("/v1/", "/api/", "/images/")

    def __init__(self, app, keys: tuple[str, ...]):
        self.app, self.keys = app, {k.encode() for k in keys}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.PROTECTED):
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            token = header[7:].strip() if header[:7].lower() == b"bearer " else b""
            if not any(hmac.compare_digest(token, k) for k in self.keys):
                return await _send_error(
                    send,
                    APIError(
                        401,
                        "Incorrect API key provided: give it as 'Authorization: Bearer KEY'.",
                        code="invalid_api_key",
                    ),
                )
        return await self.app(scope, receive, send)


async def _send_error(send, err: APIError) -> None:
    body = json.dumps(
        {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_error_handlers(app) -> None:
    """Every error, the framework's own included, answered in OpenAI's shape."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(APIError)
    async def _api_error(request, exc: APIError):
        return exc.response()

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request, exc):
        return APIError(413, str(exc), code="request_too_large").response()

    @app.exception_handler(BodyTimeout)
    async def _slow(request, exc):
        return APIError(408, str(exc), code="request_timeout").response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc):
        return APIError(
            400, "the request is not valid: " + "; ".join(e.get("msg", "") for e in exc.errors())
        ).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        status = exc.status_code if exc.status_code in (400, 401, 404, 405, 413, 429) else 500
        return APIError(
            status, str(exc.detail), code={404: "not_found", 405: "method_not_allowed"}.get(status)
        ).response()

    @app.exception_handler(Exception)
    async def _crash(request, exc):
        log.exception("unexpected error")
        return APIError(500, "the server hit an unexpected error; it is logged").response()
