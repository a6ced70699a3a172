"""A minimal asyncio Redis connection for read-only probes: our commands framed by hand, replies
parsed by hiredis (redis-py's own C parser).

Why not redis-py's client here: a fleet sweep opens one connection per server and sends four
commands; redis-py's client machinery (imports, connection pools, callbacks) cost more than the
servers' own answers (0.1 s of imports alone). Actions still use redis-py.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import hiredis


# The most a probe reads in one call. The largest real replies are far below it (INFO all with its
# command stats, CONFIG GET *, CLIENT LIST of 10,000 clients: a few MB at most).
MAX_REPLY_BYTES = 16 * 1024 * 1024
# No reply a probe reads has more elements than this (CLIENT LIST is one string; CONFIG GET * is about
# 400 names and values): a reply that announces more is not read at all, since building millions of
# elements costs seconds before the byte limit is reached.
MAX_ELEMENTS = 1_000_000


def _refuse_huge_aggregate(data: bytes) -> None:
    """The first bytes of a reply: an array, map, set or push that announces more than MAX_ELEMENTS."""
    if data[:1] in (b"*", b"%", b"~", b">"):
        end = data.find(b"\r\n", 1, 24)
        head = data[1:end] if end > 0 else b""
        if head.isdigit() and int(head) > MAX_ELEMENTS:
            raise WireError(f"the reply announces {int(head):,} elements (more than {MAX_ELEMENTS:,}): not read")


class WireError(Exception):
    pass


def encode(*args: str | bytes | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Wire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.parser = hiredis.Reader(encoding="utf-8", errors="replace")  # replies as str, decoded in C

    @classmethod
    async def open(cls, kw: dict[str, Any], timeout: float) -> "Wire":
        """kw as made by connect.connection_kwargs. AUTH when a password is given; nothing else on connect."""
        if kw.get("unix_socket_path"):
            conn = asyncio.open_unix_connection(kw["unix_socket_path"])
        else:
            ctx = None
            if kw.get("ssl"):
                ctx = ssl.create_default_context()
                if kw.get("ssl_cert_reqs", "required") is None:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
            conn = asyncio.open_connection(kw["host"], kw.get("port", 6379), ssl=ctx)
        try:
            reader, writer = await asyncio.wait_for(conn, timeout)
        except asyncio.TimeoutError:
            raise WireError(f"no connection within {timeout:g} s") from None
        except OSError as e:
            raise WireError(e.strerror or str(e)) from None
        w = cls(reader, writer, timeout)
        if kw.get("password"):
            args = ["AUTH", kw["username"], kw["password"]] if kw.get("username") else ["AUTH", kw["password"]]
            try:
                (reply,) = await w.call([args])
            except WireError:
                await w.close()
                raise
            if isinstance(reply, Exception):
                await w.close()
                raise WireError(f"authentication failed: {reply}")
        return w

    async def call(self, commands: list[list[Any]]) -> list[Any]:
        """Send commands in one write; one reply each (a refused command's reply is an exception object)."""
        self.writer.write(b"".join(encode(*c) for c in commands))
        replies: list[Any] = []
        try:
            await asyncio.wait_for(self._drain_and_read(replies, len(commands)), self.timeout)
        except asyncio.TimeoutError:
            raise WireError(f"no answer within {self.timeout:g} s") from None
        except (OSError, hiredis.ProtocolError) as e:
            raise WireError(str(e) or type(e).__name__) from None
        return replies

    async def subscribe(self, channel: str, seconds: float) -> list[Any]:
        """SUBSCRIBE to channel and collect what it pushes for `seconds` (the confirmation included); the
        connection is a subscriber's afterwards. A refusal is an exception object in the list."""
        self.writer.write(encode("SUBSCRIBE", channel))
        replies: list[Any] = []
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            while True:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await asyncio.wait_for(self._drain_and_read(replies, len(replies) + 1), left)
                if isinstance(replies[-1], Exception):
                    break
        except asyncio.TimeoutError:
            pass
        except (OSError, hiredis.ProtocolError) as e:
            raise WireError(str(e) or type(e).__name__) from None
        return replies

    async def _drain_and_read(self, replies: list[Any], n: int) -> None:
        await self.writer.drain()
        got = 0
        while len(replies) < n:
            reply = self.parser.gets()
            if reply is False:
                data = await self.reader.read(65536)
                if not data:
                    raise WireError("the server closed the connection")
                if got == 0:
                    _refuse_huge_aggregate(data)
                got += len(data)
                if got > MAX_REPLY_BYTES:  # a server that never stops answering does not grow us without end
                    raise WireError(f"the reply is larger than {MAX_REPLY_BYTES // (1024 * 1024)} MB: not read")
                self.parser.feed(data)
                continue
            replies.append(reply)

    async def close(self) -> None:
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
