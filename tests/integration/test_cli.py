"""The README's run command: `fedblog serve` with no DATABASE_URL runs on an embedded PostgreSQL;
the operator's commands (status, backup, restore) and start-up failures said in one line."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from tests.harness import BlogServer, free_port
from tests.integration.test_operator import _seed_queues


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(FEDBLOG_DATA_DIR=str(data_dir), FEDBLOG_DOMAIN=f"127.0.0.1:{port}",
               FEDBLOG_SCHEME="http", FEDBLOG_API_TOKEN="cli-token-0123456789")
    return env


def _fedblog(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedblog.cli", *args]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_fedblog(*args), env=env, capture_output=True, text=True, timeout=90,
                          check=False)


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
        log = _stop(process)
    assert (tmp_path / "postgres" / "PG_VERSION").exists()
    # One line says what runs where; initdb's pages and library warnings stay out of the log.
    summary = [line for line in log.splitlines() if "fedblog 0.1.0: @blog@127.0.0.1 at" in line]
    assert len(summary) == 1, log
    assert f"http://127.0.0.1:{port}/desk/" in summary[0]
    assert f"database embedded PostgreSQL in {tmp_path / 'postgres'}" in summary[0]
    assert "workers: inbox and delivery in this process" in summary[0]
    for noise in ("The files belonging to this database system", "initdb", "pg_ctl",
                  "XDG_RUNTIME_DIR", "Warning"):
        assert noise not in log, log

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
    env = _env(tmp_path, port)
    out = _cli(["migrate"], env)
    assert out.returncode == 0 and "up to date" in out.stdout, out.stderr
    token = _cli(["token", "create"], env)
    assert token.returncode == 0 and token.stdout.strip().startswith("fb_"), token.stderr
    listed = _cli(["token", "list"], env)
    assert listed.stdout.startswith("1\t-\t") and "active" in listed.stdout
    assert token.stdout.strip() not in listed.stdout
    revoked = _cli(["token", "revoke", "1"], env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout

    # The embedded server is PostgreSQL 16: the backup must use its own pg_dump (an older one
    # on PATH refuses a newer server), and the restore takes the data back to the backup's.
    backup = tmp_path / "blog.dump"
    saved = _cli(["backup", str(backup)], env)
    assert saved.returncode == 0 and backup.stat().st_size > 0, saved.stderr
    assert _cli(["token", "create", "--label", "after the backup"], env).returncode == 0
    status = _cli(["status"], env)
    assert status.returncode == 0 and "embedded PostgreSQL" in status.stdout, status.stderr
    restored = _cli(["restore", str(backup)], env)
    assert restored.returncode == 0 and "restored" in restored.stdout, restored.stderr
    listed = _cli(["token", "list"], env)
    assert listed.stdout.startswith("1\t-\t") and "after the backup" not in listed.stdout


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


def _one_line_failure(args: list[str], env: dict[str, str], code: int) -> str:
    done = _cli(args, env)
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fedblog: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


def test_start_up_failures_are_one_line_and_a_non_zero_exit(database_url: str,
                                                              tmp_path: Path) -> None:
    port = free_port()
    env = {**_env(tmp_path, port), "DATABASE_URL": database_url}
    nobody = {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/fedblog"}
    for command in (["serve", "--port", str(port)], ["worker"], ["migrate"], ["status"],
                    ["backup", str(tmp_path / "x.dump")]):
        line = _one_line_failure(command, nobody, 1)
        assert "cannot connect to the database postgresql://postgres@127.0.0.1:" in line, line
    missing = {**env, "DATABASE_URL": database_url.rsplit("/", 1)[0] + "/no_such_database"}
    assert "no_such_database" in _one_line_failure(["serve", "--port", str(port)], missing, 1)
    secret = {**env, "DATABASE_URL": f"postgresql://u:hunter2hunter2@127.0.0.1:{free_port()}/x"}
    assert "hunter2" not in _one_line_failure(["migrate"], secret, 1)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        line = _one_line_failure(["serve", "--host", "127.0.0.1", "--port", str(port)], env, 1)
        assert line == f"fedblog: cannot listen on 127.0.0.1:{port}: Address already in use"

    for domain, says in (("https://blog.example", "without a scheme"),
                         ("blog.example/blog", "without a path")):
        line = _one_line_failure(["serve"], {**env, "FEDBLOG_DOMAIN": domain}, 2)
        assert says in line
    line = _one_line_failure(["serve"], {**env, "FEDBLOG_API_TOKEN": "change-me"}, 2)
    assert "FEDBLOG_API_TOKEN must be at least 16 characters" in line


async def test_a_failed_application_start_is_one_line_too(database_url: str,
                                                         tmp_path: Path) -> None:
    """A database that answers but whose blog key cannot be read (a bad restore, a hand edit):
    the application's start fails inside uvicorn, which would log Starlette's traceback."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO local_keys (name, private_key_pem, public_key_pem)"
                           " VALUES ('blog', 'not a key', 'not a key')")
    finally:
        await conn.close()
    port = free_port()
    env = {**_env(tmp_path, port), "DATABASE_URL": database_url}
    done = await asyncio.to_thread(_cli, ["serve", "--port", str(port)], env)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    failed = [line for line in done.stderr.splitlines() if "start-up failed" in line]
    assert len(failed) == 1 and "ValueError: Unable to load PEM file" in failed[0], done.stderr


def test_serve_warns_about_example_tokens_and_a_localhost_domain_on_a_public_bind(
        database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**_env(tmp_path, port), "DATABASE_URL": database_url, "FEDBLOG_DOMAIN": "localhost:8000",
           "FEDBLOG_API_TOKEN": "change-me-change-me"}
    process = subprocess.Popen(_fedblog("serve", "--host", "0.0.0.0", "--port", str(port),
                                        "--no-workers"),
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        out = _stop(process)
    assert "WARNING fedblog: FEDBLOG_API_TOKEN looks like an example" in out
    assert "WARNING fedblog: FEDBLOG_DOMAIN is 'localhost:8000' but the server listens on 0.0.0.0" in out
    assert "workers: none here (--no-workers" in out


async def test_backup_and_restore_keep_the_blog_and_its_keys(database_url: str,
                                                             tmp_path: Path) -> None:
    env = {**_env(tmp_path, free_port()), "DATABASE_URL": database_url}
    async with BlogServer(database_url, run_workers=False) as blog:
        await blog.post("Före säkerhetskopian")
        actor = (await blog.fetch_as2(blog.actor)).json()
        port = blog.port
    backup = tmp_path / "blog.dump"
    saved = await asyncio.to_thread(_cli, ["backup", str(backup)], env)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith(f"backed up {database_url} to {backup}")

    # Disaster: the keys and the posts are gone, and a table a later version adds is there.
    async with BlogServer(database_url, run_workers=False, port=port) as blog, \
            blog.services.runtime.db.connection() as conn:
        await conn.execute("DELETE FROM local_keys; DELETE FROM posts;"
                           " CREATE TABLE from_a_later_version (x int)")
    not_ours = tmp_path / "notes.txt"
    not_ours.write_text("not a backup")
    line = await asyncio.to_thread(_one_line_failure, ["restore", str(not_ours)], env, 1)
    assert "restoring" in line or "reading the backup" in line, line
    line = await asyncio.to_thread(_one_line_failure, ["restore", str(tmp_path / "missing.dump")],
                                   env, 1)
    assert "no such file" in line

    restored = await asyncio.to_thread(_cli, ["restore", str(backup)], env)
    assert restored.returncode == 0, restored.stderr
    async with BlogServer(database_url, run_workers=False, port=port) as blog:
        again = (await blog.fetch_as2(blog.actor)).json()
        assert again["publicKey"] == actor["publicKey"], "the blog's identity survived"
        posts = (await blog.api.get("/api/v1/posts")).json()["items"]
        assert [p["markdown"] for p in posts] == ["Före säkerhetskopian"]
        async with blog.services.runtime.db.connection() as conn:
            assert await conn.fetchval("SELECT to_regclass('from_a_later_version')") is None
            assert await conn.fetchval("SELECT count(*) FROM local_keys") == 2


async def test_status_prints_queues_failing_hosts_and_last_errors(database_url: str,
                                                                  tmp_path: Path) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        await _seed_queues(blog)
    env = {**_env(tmp_path, free_port()), "DATABASE_URL": database_url}
    done = await asyncio.to_thread(_cli, ["status"], env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"database     {database_url}: ok" in out
    assert "inbox        2 to process (1 after an error), 0 waiting for a parent; oldest 4" in out
    assert "deliveries   4 queued (3 due, 3 retrying, 2 held by paused hosts); oldest 60 min" in out
    assert "3 delivered, 1 given up" in out
    assert "hosts        2 failing, 1 paused" in out
    assert "  down.example  24 failures in a row, paused until " in out
    assert "  later.example  2 failures in a row, last failure" in out
    # Newest first: the delivery given up just now, the inbox error (42 s ago), then the latest
    # error of each failing host.
    errors = out.split("last errors", 1)[1].splitlines()[1:]
    assert "delivery  https://gone.example/inbox  HTTP 500 (given up)" in errors[0]
    assert "inbox     Create from https://r/u  ConnectError: parent fetch failed (received)" \
        in errors[1]
    assert errors[2].endswith("delivery  https://down.example/u/2/inbox  HTTP 503")
    assert errors[3].endswith("delivery  https://later.example/inbox  HTTP 500")
    assert len(errors) == 4
