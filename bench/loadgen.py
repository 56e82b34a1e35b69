"""A cheap HTTP/1.1 load generator (raw asyncio, keep-alive), run as its own process.

It sends pre-built request bytes (signed before the timed window), so during the window it only
writes bytes and parses status lines. Streams are closed-loop (N connections, each sending as
soon as its answer arrives) or open-loop (a fixed rate; latency counted from the intended send
time, so a slow server cannot hide its queueing).

    python -m bench.loadgen spec.json result.json
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import raise_nofile, run_async


class ConnectionClosed(Exception):
    pass


def _chunked_end(buf: bytearray, pos: int) -> int:
    """End index of a complete chunked body starting at `pos`, or -1 while incomplete."""
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return -1
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)
            return -1 if end < 0 else end + 4
        pos += size + 2
        if pos > len(buf):
            return -1


class Client(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, keep_body: int) -> None:
        self.keep_body = keep_body
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes, dict[bytes, bytes]]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionClosed(str(exc)))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        lines = bytes(self.buf[:head_end]).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        start = head_end + 4
        if b"content-length" in headers:
            end = start + int(headers[b"content-length"])
            if len(self.buf) < end:
                return
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            end = _chunked_end(self.buf, start)
            if end < 0:
                return
        elif status in (204, 304) or 100 <= status < 200:
            end = start
        else:
            return  # until close: not used by the servers here
        body = bytes(self.buf[start:min(end, start + self.keep_body)])
        del self.buf[:end]
        if headers.get(b"connection", b"").lower() == b"close" and self.transport is not None:
            self.transport.close()
            self.closed = True
        self.waiter.set_result((status, body, headers))

    async def request(self, data: bytes) -> tuple[int, bytes, dict[bytes, bytes]]:
        if self.closed or self.transport is None:
            raise ConnectionClosed("closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


@dataclass
class StreamResult:
    name: str
    sent: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)       # ms, successful answers
    lateness: list[float] = field(default_factory=list)        # ms, open loop: intended → answer
    per_sec: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    exhausted_at: float | None = None
    first: float | None = None
    last: float | None = None
    headers: dict[str, str] = field(default_factory=dict)      # of the first answer
    cpu_seconds: float = 0.0                                   # the generator's, whole window

    def record(self, status: int, body: bytes, ms: float, tag_words: list[str]) -> None:
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if status < 400:
            self.latencies.append(ms)
        for word in tag_words:
            if word.encode() in body:
                self.tags[word] = self.tags.get(word, 0) + 1
                break
        now = time.time()
        sec = int(now)
        self.per_sec[sec] = self.per_sec.get(sec, 0) + 1
        self.first = self.first or now
        self.last = now


async def _open(host: str, port: int, keep_body: int) -> Client:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: Client(keep_body), host, port)
    return proto


async def run_stream(host: str, port: int, spec: dict[str, Any], ready: asyncio.Event,
                     go: asyncio.Future[None]) -> StreamResult:
    paths = spec["requests"] if isinstance(spec["requests"], list) else [spec["requests"]]
    requests: list[bytes] = []
    for path in paths:
        with open(path, "rb") as fh:
            requests.extend(pickle.load(fh))
    result = StreamResult(spec["name"])
    cycle = bool(spec.get("cycle"))
    keep_body = int(spec.get("keep_body", 256))
    tags = list(spec.get("tags", []))
    duration = float(spec["duration"])
    index = 0

    def next_request() -> bytes | None:
        nonlocal index
        if index >= len(requests):
            if not cycle:
                return None
            index = 0
        data = requests[index]
        index += 1
        return data

    async def exchange(conn: Client, data: bytes, t0: float) -> Client:
        for _ in range(3):
            try:
                status, body, headers = await conn.request(data)
            except (ConnectionClosed, OSError):
                result.errors += 1
                conn = await _open(host, port, keep_body)
                continue
            if not result.headers:
                result.headers = {k.decode(): v.decode("latin-1") for k, v in headers.items()}
            result.record(status, body, 1000 * (time.perf_counter() - t0), tags)
            break
        if conn.closed:
            conn = await _open(host, port, keep_body)
        return conn

    if spec["mode"] == "closed":
        conns = [await _open(host, port, keep_body) for _ in range(int(spec["concurrency"]))]
        ready.set()
        await go
        deadline = time.perf_counter() + duration

        async def worker(conn: Client) -> None:
            while time.perf_counter() < deadline:
                data = next_request()
                if data is None:
                    result.exhausted_at = result.exhausted_at or time.time()
                    return
                result.sent += 1
                conn = await exchange(conn, data, time.perf_counter())
            if conn.transport is not None:
                conn.transport.close()

        await asyncio.gather(*(worker(c) for c in conns))
        return result

    # open loop: a fixed rate, connections taken from an idle pool (opened as needed, up to
    # max_conns; beyond, requests wait for a free one: one waiter woken per free connection)
    rate = float(spec["rate"])
    max_conns = int(spec.get("max_conns", 512))
    idle: asyncio.Queue[Client] = asyncio.Queue()
    for _ in range(int(spec.get("conns", 16))):
        idle.put_nowait(await _open(host, port, keep_body))
    opened = idle.qsize()
    pending: set[asyncio.Task[None]] = set()

    async def one(data: bytes, intended: float) -> None:
        nonlocal opened
        if idle.empty() and opened < max_conns:
            opened += 1
            conn = await _open(host, port, keep_body)
        else:
            conn = await idle.get()
        t0 = time.perf_counter()
        conn = await exchange(conn, data, t0)
        result.lateness.append(1000 * (time.perf_counter() - intended))
        idle.put_nowait(conn)

    ready.set()
    await go
    begin = time.perf_counter()
    n = 0
    while (now := time.perf_counter()) < begin + duration:
        due = int((now - begin) * rate)
        while n < due:
            data = next_request()
            if data is None:
                result.exhausted_at = result.exhausted_at or time.time()
                break
            result.sent += 1
            task = asyncio.create_task(one(data, begin + n / rate))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.sleep(0.002)
    if pending:
        await asyncio.wait(pending, timeout=30)
    while not idle.empty():
        conn = idle.get_nowait()
        if conn.transport is not None:
            conn.transport.close()
    return result


async def run(spec: dict[str, Any]) -> list[StreamResult]:
    """Load requests and connect, print "ready", start when a line arrives on stdin."""
    loop = asyncio.get_running_loop()
    go: asyncio.Future[None] = loop.create_future()
    readies = [asyncio.Event() for _ in spec["streams"]]
    tasks = [asyncio.create_task(run_stream(spec["host"], int(spec["port"]), s, r, go))
             for s, r in zip(spec["streams"], readies)]
    for r in readies:
        await r.wait()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    go.set_result(None)
    cpu0 = time.process_time()
    results = list(await asyncio.gather(*tasks))
    for r in results:
        r.cpu_seconds = time.process_time() - cpu0
    return results


def main() -> None:
    raise_nofile()
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as fh:
        spec = json.load(fh)
    results = run_async(run(spec))
    with open(out_path, "w") as fh:
        json.dump([r.__dict__ for r in results], fh)


# --- the benchmark's side ---------------------------------------------------------------------


class Generator:
    """The generator process: start() loads and connects, go() starts the window, wait() ends."""

    def __init__(self, spec: dict[str, Any], workdir: str, name: str) -> None:
        self.spec = spec
        self.workdir = workdir
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        spec_path = f"{self.workdir}/{self.name}-spec.json"
        with open(spec_path, "w") as fh:
            json.dump(self.spec, fh)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen", spec_path,
            f"{self.workdir}/{self.name}-result.json", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, start_new_session=True)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=300)
        if line.strip() != b"ready":
            raise RuntimeError("the load generator did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def go(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def wait(self) -> list[dict[str, Any]]:
        assert self.proc is not None
        await self.proc.wait()
        if self.proc.returncode != 0:
            raise RuntimeError(f"the load generator failed ({self.proc.returncode})")
        return load_result(self.workdir, self.name)


def load_result(workdir: str, name: str) -> list[dict[str, Any]]:
    with open(f"{workdir}/{name}-result.json") as fh:
        return list(json.load(fh))


def build_request(method: str, host: str, path: str, headers: list[tuple[str, str]],
                  body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


if __name__ == "__main__":
    main()
