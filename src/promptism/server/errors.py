"""Errors in OpenAI's shape, and the ASGI middleware in front of the routes: body and header limits,
API keys, and the guard against browser-borne attacks (host names, origins, content types,
security headers, CORS)."""

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

    def body(self) -> dict:
        """The error in OpenAI's shape."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self):
        from fastapi.responses import JSONResponse

        headers = {"Retry-After": "5"} if self.status == 429 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def http_protocol():
    """uvicorn's h11 protocol, answering a request it cannot parse (a negative or non-numeric
    Content-Length, a malformed request line) with OpenAI's error shape instead of plain text."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class OpenAIErrorsH11(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            err = APIError(400, f"the request is not valid HTTP/1.1 ({msg.rstrip('.')})", code="invalid_http")
            body = json.dumps(err.body()).encode()
            head = [(b"content-type", b"application/json"), (b"connection", b"close")]
            for event in (h11.Response(status_code=400, headers=head), h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return OpenAIErrorsH11


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
    """ASGI middleware: the API, the history and the pictures need 'Authorization: Bearer KEY'; a
    picture also opens with a signed, unexpired link (links.py). The key's user and whether it is an
    admin go into the request's state for the routes. (Pure ASGI rather than an "http" middleware,
    so that routes still see a client leave.)"""

    PROTECTED = ("/v1/", "/api/", "/images/")

    def __init__(self, app, keys: dict[str, tuple[str, bool]], secret: bytes):
        self.app, self.secret = app, secret
        self.keys = [(k.encode(), who) for k, who in keys.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.PROTECTED):
            from .links import verify

            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            token = header[7:].strip() if header[:7].lower() == b"bearer " else b""
            who = next((w for k, w in self.keys if hmac.compare_digest(token, k)), None)
            state = scope.setdefault("state", {})
            if who is not None:
                state["user"], state["admin"] = who
            elif scope["path"].startswith("/images/") and verify(
                self.secret, scope["path"][len("/images/") :], scope.get("query_string", b"").decode("latin-1")
            ):
                state["user"], state["admin"], state["signed"] = None, False, True
            else:
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
    body = json.dumps(err.body()).encode()
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


# --- what a web page in someone's browser could make the server do ------------------------------
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SECURITY_HEADERS = [
    # the studio is one HTML page, one script and one stylesheet of its own; pictures may be blob: URLs
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
BODY_TYPES = ("application/json", "multipart/form-data")


def host_name(value: str) -> str:
    """The name of a Host header or an origin's authority, without its port: "[::1]:8000" -> "::1"."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class BrowserGuard:
    """ASGI middleware against browser-borne attacks on a server that other pages can reach:
    a Host header outside the allowed names is refused (DNS rebinding); a state-changing request
    must carry JSON or multipart (a cross-origin HTML form cannot send them without a CORS
    preflight) and, when the browser names its Origin, come from this server or an allowed origin
    (CSRF); every response carries a content security policy and the headers that forbid framing
    and sniffing; CORS answers only the origins allowed."""

    def __init__(self, app, allowed_hosts: tuple[str, ...] = (), cors_origins: tuple[str, ...] = ()):
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.hosts = {h.lower() for h in (*LOOPBACK_NAMES, *allowed_hosts) if h != "*"}
        self.cors = {o.rstrip("/").lower() for o in cors_origins}

    def _same_origin(self, origin: str, host: str) -> bool:
        scheme, _, authority = origin.partition("://")
        return scheme in ("http", "https") and authority == host.lower()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        origin = headers.get("origin", "").rstrip("/").lower()
        cors = origin in self.cors

        async def secured(message):
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if cors:
                    extra += [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if not self.any_host and host_name(host) not in self.hosts:
            err = APIError(
                400,
                f"this server does not answer to the host {host!r}: start it with --allowed-host",
                code="invalid_host",
            )
            return await _send_error(secured, err)
        method = scope["method"]
        if method == "OPTIONS" and cors:  # a CORS preflight from an allowed origin
            return await _send_empty(
                secured,
                204,
                [
                    (b"access-control-allow-methods", b"GET, POST, DELETE"),
                    (b"access-control-allow-headers", b"Authorization, Content-Type"),
                    (b"access-control-max-age", b"600"),
                ],
            )
        if method in UNSAFE:
            if origin and not cors and not self._same_origin(origin, host):
                err = APIError(
                    403, f"a request from the page at {origin} is refused (cross-origin)", code="cross_origin"
                )
                return await _send_error(secured, err)
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype not in BODY_TYPES:
                err = APIError(
                    415,
                    "send the body as application/json (or multipart/form-data with files)",
                    code="unsupported_media_type",
                )
                return await _send_error(secured, err)
        return await self.app(scope, receive, secured)


async def _send_empty(send, status: int, headers: list) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
