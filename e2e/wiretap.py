"""Loopback helpers for watching a client that cannot be instrumented (Claude Code is a binary).

- WireTap: a byte-transparent TCP relay in front of the gateway. Bytes go through unchanged in
  both directions; a parser reads a copy of the client's bytes to note each HTTP/1.1 request
  line and its headers (the history database keeps neither the query string nor headers).
- Sinkhole: an HTTP proxy that records what a client tried to reach and refuses all of it, so
  a test can point HTTP(S)_PROXY at it and no stray traffic leaves the machine.

Both run an asyncio loop in a daemon thread, listen on 127.0.0.1 only, and stop on close().
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, last value wins

    def auth_style(self) -> str:
        if "x-api-key" in self.headers:
            return "x-api-key"
        scheme = self.headers.get("authorization", "").split(" ")[0]
        return scheme.lower() or "none"


class _RequestParser:
    """Incremental HTTP/1.1 request framing: heads, then Content-Length or chunked bodies."""

    def __init__(self, on_request) -> None:
        self.buf = bytearray()
        self.state = "head"
        self.remaining = 0
        self.on_request = on_request

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        buf = self.buf
        if self.state == "head":
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                return False
            head = bytes(buf[:i]).decode("latin-1")
            del buf[: i + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.on_request(Seen(parts[0], parts[1] if len(parts) > 1 else "", headers))
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self.state = "chunk-size"
            else:
                self.remaining = int(headers.get("content-length", "0") or 0)
                self.state = "body"
            return True
        if self.state in ("body", "chunk-data"):
            n = min(self.remaining, len(buf))
            del buf[:n]
            self.remaining -= n
            if self.remaining:
                return False
            self.state = "head" if self.state == "body" else "chunk-size"
            return True
        if self.state == "chunk-size":
            i = buf.find(b"\r\n")
            if i < 0:
                return False
            size = int(bytes(buf[:i]).split(b";")[0].strip() or b"0", 16)
            del buf[: i + 2]
            if size == 0:
                self.state = "trailers"
            else:
                self.remaining = size + 2  # data and its CRLF
                self.state = "chunk-data"
            return True
        if self.state == "trailers":
            i = buf.find(b"\r\n")
            if i < 0:
                return False
            line = bytes(buf[:i])
            del buf[: i + 2]
            if not line:
                self.state = "head"
            return True
        return False


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    def _listen(self, handler) -> None:
        async def start():
            self.server = await asyncio.start_server(handler, "127.0.0.1", 0)
            return self.server.sockets[0].getsockname()[1]

        self.port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self) -> None:
        async def stop():
            if self.server is not None:
                self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class WireTap(_LoopThread):
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        super().__init__()
        self.upstream = (upstream_host, upstream_port)
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self._listen(self._handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self) -> list[Seen]:
        with self.lock:
            return list(self.requests)

    def _record(self, seen: Seen) -> None:
        with self.lock:
            self.requests.append(seen)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        parser = _RequestParser(self._record)

        async def pump(reader, writer, observe) -> None:
            try:
                while data := await reader.read(65536):
                    if observe is not None:
                        observe(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001
                    pass

        await asyncio.gather(pump(client_r, up_w, parser.feed), pump(up_r, client_w, None))


class Sinkhole(_LoopThread):
    """Answers every proxy request (CONNECT host:443 or GET http://...) with 403 and notes it."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[str] = []
        self.lock = threading.Lock()
        self._listen(self._handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            with self.lock:
                self.attempts.append(line)
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
