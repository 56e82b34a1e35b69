"""The README's run command: `fedblog serve` with no DATABASE_URL runs on an embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.harness import free_port


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(FEDBLOG_DATA_DIR=str(data_dir), FEDBLOG_DOMAIN=f"127.0.0.1:{port}",
               FEDBLOG_SCHEME="http", FEDBLOG_API_TOKEN="cli-token-0123456789")
    return env


def _fedblog(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedblog.cli", *args]


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(_fedblog("serve", "--host", "127.0.0.1", "--port", str(port)),
                               env=_env(data_dir, port), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/.well-known/nodeinfo", timeout=1).is_success:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("fedblog serve did not come up")


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -15 is a clean exit too
    assert process.returncode in (0, -signal.SIGTERM), out.decode()
    assert "Application shutdown complete" in out.decode()
    return out.decode()


def test_serve_on_embedded_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    api = {"Authorization": "Bearer cli-token-0123456789"}
    process = _serve(tmp_path, port)
    try:
        created = httpx.post(f"http://127.0.0.1:{port}/api/v1/posts", headers=api,
                             json={"markdown": "Överlever omstart"}, timeout=10)
        assert created.status_code == 201, created.text
        actor = httpx.get(f"http://127.0.0.1:{port}/users/blog",
                          headers={"Accept": "application/activity+json"}).json()
    finally:
        _stop(process)
    assert (tmp_path / "postgres" / "PG_VERSION").exists()

    process = _serve(tmp_path, port)
    try:
        posts = httpx.get(f"http://127.0.0.1:{port}/api/v1/posts", headers=api).json()["items"]
        assert [p["markdown"] for p in posts] == ["Överlever omstart"]
        again = httpx.get(f"http://127.0.0.1:{port}/users/blog",
                          headers={"Accept": "application/activity+json"}).json()
        assert again["publicKey"] == actor["publicKey"], "the key is generated once and kept"
    finally:
        _stop(process)

    # `fedblog migrate` and `fedblog token create` work on the same embedded data
    out = subprocess.run(_fedblog("migrate"), env=_env(tmp_path, port), capture_output=True,
                         text=True, timeout=90)
    assert out.returncode == 0 and "up to date" in out.stdout, out.stderr
    token = subprocess.run(_fedblog("token", "create"), env=_env(tmp_path, port),
                           capture_output=True, text=True, timeout=90)
    assert token.returncode == 0 and token.stdout.strip().startswith("fb_"), token.stderr
    listed = subprocess.run(_fedblog("token", "list"), env=_env(tmp_path, port),
                            capture_output=True, text=True, timeout=90)
    assert listed.stdout.startswith("1\t-\t") and "active" in listed.stdout
    assert token.stdout.strip() not in listed.stdout
    revoked = subprocess.run(_fedblog("token", "revoke", "1"), env=_env(tmp_path, port),
                             capture_output=True, text=True, timeout=90)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout


async def test_serve_with_several_processes_shares_one_database(database_url: str,
                                                                tmp_path: Path) -> None:
    port = free_port()
    env = {**_env(tmp_path, port), "DATABASE_URL": database_url}
    process = subprocess.Popen(
        _fedblog("serve", "--host", "127.0.0.1", "--port", str(port), "--processes", "2"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": "Bearer cli-token-0123456789"}) as client:
            for _ in range(300):
                try:
                    if (await client.get("/.well-known/nodeinfo")).is_success:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            created = [await client.post("/api/v1/posts", json={"markdown": f"nr {i}"})
                       for i in range(10)]
            assert {r.status_code for r in created} == {201}
            listed = (await client.get("/api/v1/posts", params={"limit": 20})).json()["items"]
            assert len(listed) == 10
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert out.decode().count("Started server process") == 2
