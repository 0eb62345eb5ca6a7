"""Security headers on every HTML response (the status page, /docs) that does not set its own.

The status page sends its own strict policy; FastAPI's /docs page does not, and it needs the
Swagger UI script and styles from cdn.jsdelivr.net plus one inline script, hence the policy below.
Pure ASGI: only the `http.response.start` message is touched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HtmlSecurityHeaders", "DEFAULT_HEADERS"]

_CDN = "https://cdn.jsdelivr.net"
DEFAULT_HEADERS: dict[bytes, bytes] = {
    b"content-security-policy": (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
        f"style-src 'self' 'unsafe-inline' {_CDN}; "
        "img-src 'self' data: https://fastapi.tiangolo.com; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ).encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
}


class HtmlSecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                ctype = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if ctype.lower().startswith(b"text/html"):
                    headers += [(k, v) for k, v in DEFAULT_HEADERS.items() if k not in present]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
