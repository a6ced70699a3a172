"""`runbook serve SESSION`: the read-only watch view in a browser, through textual-serve's server. Each browser
tab gets a `runbook watch` process of its own; nothing else is served (no download route, no other command).

Every path is under a random token (`http://HOST:PORT/TOKEN/`): a request without it, the websocket included,
gets 403 before any handler runs. Every viewer is recorded, with where it came from, in the viewers file beside
the journal (refused requests too)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from runbook.journal import beside

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def url_host(bind: str) -> str:
    """The host a browser uses for the bound address (a wildcard: this host's name)."""
    if bind in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return f"[{bind}]" if ":" in bind else bind


class WatchServer(Server):
    """textual-serve's server, with every route under the token, and a watch process per websocket."""

    def __init__(self, journal: Path, bind: str, port: int, token: str | None = None) -> None:
        self.journal = journal
        self.token = token or secrets.token_urlsafe(24)
        command = shlex.join([sys.executable, "-m", "runbook.cli", "watch", str(journal)])
        super().__init__(command, host=bind, port=port, title=f"runbook watch {journal.stem}")
        self.viewers = beside.beside(journal, beside.VIEWERS)

    # -- who came
    def _record(self, event: str, request: web.Request, **more: Any) -> None:
        rec = {"event": event, "from": request.remote or "?", "via": "serve",
               "user_agent": request.headers.get("User-Agent", "")[:200], **more}
        if request.headers.get("X-Forwarded-For"):
            rec["forwarded_for"] = request.headers["X-Forwarded-For"][:200]
        try:
            beside.append(self.viewers, rec)
        except OSError:
            pass

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        first = request.path.lstrip("/").partition("/")[0]
        if not hmac.compare_digest(first.encode(), self.token.encode()):
            self._record("refused", request)  # (not its path: a mistyped token is near the real one)
            raise web.HTTPForbidden(text="runbook serve: this address needs the session's token\n")
        if request.path == f"/{self.token}":
            raise web.HTTPFound(f"/{self.token}/")
        return await handler(request)

    async def _make_app(self) -> web.Application:
        import aiohttp_jinja2
        import jinja2

        app = web.Application(middlewares=[self._gate])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        root = f"/{self.token}"
        app.add_routes([
            web.get(root + "/", self.handle_page, name="index"),
            web.get(root + "/ws", self.handle_viewer, name="websocket"),
            web.static(root + "/static", self.statics_path, name="static"),
        ])
        return app

    async def handle_page(self, request: web.Request) -> web.StreamResponse:
        self._record("page", request)
        # the page's websocket and static addresses: as the browser reached us (textual-serve builds them from
        # public_url, read synchronously by its handler)
        self.public_url = f"{request.scheme}://{request.host}"
        return await self.handle_index(request)

    async def handle_viewer(self, request: web.Request) -> web.WebSocketResponse:
        """One browser tab: a watch process of its own, told where its viewer is."""

        def size(name: str, default: int) -> int:
            try:
                return max(20, min(500, int(request.query.get(name, default))))
            except ValueError:
                return default

        where = f"browser at {request.remote}"
        self._record("connected", request)
        ws = web.WebSocketResponse(heartbeat=15)
        await ws.prepare(request)
        service = AppService(f"{self.command} --viewer-from {shlex.quote(where)}", write_bytes=ws.send_bytes,
                             write_str=ws.send_str, close=ws.close, download_manager=self.download_manager)
        try:
            await service.start(size("width", 80), size("height", 24))
            await self._process_messages(ws, service)
        except asyncio.CancelledError:
            await ws.close()
        finally:
            await service.stop()
            self._record("disconnected", request)
        return ws

    async def run(self, ready: Any = None) -> None:
        app = await self._make_app()
        runner = web.AppRunner(app, access_log=None)  # (an access log would print the token on every request)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://{url_host(self.host)}:{port}/{self.token}/"
        out = sys.stdout
        out.write(f"runbook serve: the read-only watch view of {self.journal.stem}\n")
        out.write(f"  {url}\n")
        if is_loopback(self.host):
            out.write(f"  listening on {self.host}:{port}, this host only; others reach it with "
                      f"ssh -L {port}:127.0.0.1:{port} {socket.gethostname()}\n")
        else:
            out.write(f"  WARNING: listening on {self.host}:{port}, beyond this host: anyone who can reach this address "
                      "and has the URL sees this session and may approve or deny its break-glass. Share the URL only "
                      "with them; there is no TLS.\n")
        out.write(f"  viewers are recorded in {self.viewers}; Ctrl+C stops serving (the session goes on)\n")
        out.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(s, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def run(journal: Path, bind: str = "127.0.0.1", port: int = 8737) -> int:
    try:
        asyncio.run(WatchServer(journal, bind, port).run())
    except OSError as e:
        sys.stderr.write(f"runbook: cannot listen on {bind}:{port}: {e.strerror or e}\n")
        return 1
    return 0
