"""Fake fediverse peers: one process, thousands of loopback ports (one port = one host).

Every POST is counted per (host, activity id); a configurable share answers 5xx or never answers
(a timeout, from the sender's side); the rest answer 202 after a configurable delay. GETs serve
actor documents loaded through the control port, counted per path (each key fetched once?).

    python -m bench.peers --ports 20000-22499 --control 19999

Control: one JSON object per line on the control port, one JSON line back:
    {"cmd": "config", "delay": 0.05, "p5xx": 0.01, "ptimeout": 0.01}
    {"cmd": "actors", "file": "/path/actors.json"}   # [{"port":, "path":, "doc": {...}}]
    {"cmd": "reset"}   {"cmd": "stats"}   {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any

from bench.common import raise_nofile, run_async

HANG_CLOSE_AFTER = 40.0   # a hung connection is closed by us after this (the sender gave up long before)
R_202 = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
R_503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
R_404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
R_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class State:
    def __init__(self) -> None:
        self.delay = 0.0
        self.p5xx = 0.0
        self.ptimeout = 0.0
        self.rng = random.Random(1)
        self.docs: dict[tuple[int, bytes], bytes] = {}
        self.reset()

    def reset(self) -> None:
        self.posts = 0
        self.ok = 0
        self.e5xx = 0
        self.timeouts = 0
        self.bad = 0
        self.gets: dict[str, int] = {}
        self.per_sec: dict[int, list[int]] = {}
        # activity id -> [object id, type, {port: [posts, oks, first_ok_time]}]
        self.acts: dict[str, list[Any]] = {}
        self.connections = 0
        self.t0 = time.time()

    def stats(self) -> dict[str, Any]:
        return {
            "posts": self.posts, "ok": self.ok, "e5xx": self.e5xx, "timeouts": self.timeouts,
            "bad": self.bad, "gets": self.gets, "connections": self.connections,
            "per_sec": self.per_sec,
            "acts": {k: {"obj": v[0], "type": v[1], "hosts": v[2]} for k, v in self.acts.items()},
        }


class Peer(asyncio.Protocol):
    __slots__ = ("buf", "hung", "port", "state", "transport")

    def __init__(self, state: State, port: int) -> None:
        self.state = state
        self.port = port
        self.buf = bytearray()
        self.hung = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state.connections += 1

    def data_received(self, data: bytes) -> None:
        if self.hung:
            return
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            try:
                method, path, _ = lines[0].split(b" ", 2)
            except ValueError:
                self.state.bad += 1
                self._send(R_400)
                return
            if method == b"POST":
                self._post(body)
                if self.hung:
                    return
            else:
                self._get(path)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _get(self, path: bytes) -> None:
        st = self.state
        key = path.decode("latin-1")
        st.gets[f"{self.port}{key}"] = st.gets.get(f"{self.port}{key}", 0) + 1
        doc = st.docs.get((self.port, path.split(b"#")[0]))
        if doc is None:
            self._send(R_404)
            return
        self._send(b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(doc), doc))

    def _post(self, body: bytes) -> None:
        st = self.state
        now = time.time()
        st.posts += 1
        sec = int(now)
        bucket = st.per_sec.get(sec)
        if bucket is None:
            bucket = st.per_sec[sec] = [0, 0]
        bucket[0] += 1
        try:
            doc = json.loads(body)
            act_id = str(doc.get("id"))
            obj = doc.get("object")
            obj_id = obj.get("id") if isinstance(obj, dict) else obj
            kind = str(doc.get("type"))
        except ValueError:
            st.bad += 1
            self._send(R_400)
            return
        entry = st.acts.get(act_id)
        if entry is None:
            entry = st.acts[act_id] = [obj_id, kind, {}]
        host = entry[2].get(self.port)
        if host is None:
            host = entry[2][self.port] = [0, 0, None]
        host[0] += 1
        r = st.rng.random()
        if r < st.ptimeout:
            st.timeouts += 1
            self.hung = True
            asyncio.get_running_loop().call_later(HANG_CLOSE_AFTER, self._close)
            return
        if r < st.ptimeout + st.p5xx:
            st.e5xx += 1
            self._later(R_503, None, None)
            return
        self._later(R_202, host, bucket)

    def _later(self, response: bytes, host: list[Any] | None, bucket: list[int] | None) -> None:
        if self.state.delay > 0:
            asyncio.get_running_loop().call_later(self.state.delay, self._answer, response, host, bucket)
        else:
            self._answer(response, host, bucket)

    def _answer(self, response: bytes, host: list[Any] | None, bucket: list[int] | None) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # the sender gave up: not delivered, from its point of view
        self.transport.write(response)
        if host is not None:
            st = self.state
            st.ok += 1
            host[1] += 1
            if host[2] is None:
                host[2] = time.time()
            if bucket is not None:
                bucket[1] += 1

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def parse_ports(spec: str) -> list[int]:
    ports: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            ports.extend(range(int(lo), int(hi) + 1))
        elif part:
            ports.append(int(part))
    return ports


async def serve(ports: list[int], control: int) -> None:
    state = State()
    loop = asyncio.get_running_loop()
    servers = []
    for port in ports:
        servers.append(await loop.create_server(lambda p=port: Peer(state, p), "127.0.0.1", port,
                                                backlog=512, reuse_address=True))
    done = asyncio.Event()

    async def on_control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle_control(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass

    async def handle_control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            cmd = json.loads(line)
            reply: Any = {"ok": True}
            if cmd["cmd"] == "config":
                for name in ("delay", "p5xx", "ptimeout"):
                    if name in cmd:
                        setattr(state, name, float(cmd[name]))
            elif cmd["cmd"] == "actors":
                with open(cmd["file"]) as fh:
                    for item in json.load(fh):
                        state.docs[(int(item["port"]), item["path"].encode())] = json.dumps(
                            item["doc"]).encode()
            elif cmd["cmd"] == "reset":
                state.reset()
            elif cmd["cmd"] == "stats":
                reply = state.stats()
            elif cmd["cmd"] == "quit":
                done.set()
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        writer.close()

    ctl = await asyncio.start_server(on_control, "127.0.0.1", control, limit=2**20)
    print(json.dumps({"ready": len(servers)}), flush=True)
    await done.wait()
    ctl.close()
    for s in servers:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True)
    parser.add_argument("--control", type=int, required=True)
    args = parser.parse_args()
    raise_nofile()
    run_async(serve(parse_ports(args.ports), args.control))


# --- the benchmark's side ---------------------------------------------------------------------


class Peers:
    """Starts the peers process and talks to its control port."""

    def __init__(self, ports: list[int], control: int) -> None:
        self.ports = ports
        self.control = control
        self.proc: asyncio.subprocess.Process | None = None

    @staticmethod
    def port_range(count: int, base: int = 20000) -> list[int]:
        return list(range(base, base + count))

    async def start(self) -> None:
        spec = ",".join(f"{lo}-{hi}" for lo, hi in _runs(self.ports))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.peers", "--ports", spec, "--control", str(self.control),
            stdout=asyncio.subprocess.PIPE, start_new_session=True)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
        if not line:
            raise RuntimeError("the peers process did not start (a port in use?)")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def command(self, **cmd: Any) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control, limit=2**30)
        writer.write(json.dumps(cmd).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        return json.loads(line)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await asyncio.wait_for(self.command(cmd="quit"), timeout=5)
            await asyncio.wait_for(self.proc.wait(), timeout=10)
        except (OSError, TimeoutError):
            self.proc.kill()
            await self.proc.wait()

    async def __aenter__(self) -> Peers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _runs(ports: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for p in sorted(ports):
        if runs and runs[-1][1] == p - 1:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


if __name__ == "__main__":
    main()
