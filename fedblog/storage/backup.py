"""`fedblog backup FILE` / `fedblog restore FILE`: pg_dump's custom format of the whole database
(posts, comments, followers, queues and the blog's own keys in `local_keys`, without which its
fediverse identity is lost) and pg_restore of it.

pg_dump refuses a server newer than itself, so the programs are chosen by the server's major
version: the embedded PostgreSQL's own (pgserver ships them) when they are recent enough, else
the newest on PATH that is."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from fedblog.storage.embedded import bin_dir

# A table every fedblog database has since its first migration: a file without it is not ours.
SIGNATURE_TABLE = "local_keys"


class BackupError(Exception):
    """A backup or restore could not be done; the message says why, in one line."""


@dataclass(frozen=True)
class Tools:
    folder: Path
    major: int

    def program(self, name: str) -> str:
        return str(self.folder / name)


def _major(program: Path) -> int | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)", out)
    return int(match.group(1)) if match else None


def candidate_folders() -> list[Path]:
    found = [bin_dir()]
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return list(dict.fromkeys(found))


def tools_for(server_major: int) -> Tools:
    """The pg_dump/pg_restore pair able to read and write a server of this major version."""
    usable = []
    for folder in candidate_folders():
        if not (folder / "pg_dump").exists() or not (folder / "pg_restore").exists():
            continue
        major = _major(folder / "pg_dump")
        if major is not None and major >= server_major:
            usable.append(Tools(folder, major))
    if not usable:
        raise BackupError(f"no pg_dump for PostgreSQL {server_major} or newer was found "
                          "(install the PostgreSQL client programs of that version)")
    # The closest version: an archive written by a much newer pg_dump may not restore on an
    # older pg_restore elsewhere.
    return min(usable, key=lambda tools: tools.major)


async def server_major(dsn: str) -> int:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=15)
    except Exception as exc:
        raise BackupError(f"cannot connect to the database: {type(exc).__name__}: {exc}") from exc
    try:
        return int(conn.get_server_version().major)
    finally:
        await conn.close()


def _run(argv: list[str], what: str) -> str:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "15"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what} failed: " + (lines[-1] if lines else f"exit {done.returncode}"))
    return done.stdout


def backup(dsn: str, file: Path, tools: Tools) -> None:
    """The whole database to `file`, pg_dump's compressed custom format; written beside it
    first and renamed, so an interrupted backup never replaces a good file."""
    partial = file.with_name(file.name + ".partial")
    try:
        _run([tools.program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--file={partial}", f"--dbname={dsn}"], "pg_dump")
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)


def tables_in(file: Path, tools: Tools) -> set[str]:
    """The tables a backup holds (pg_restore --list); BackupError when it is not one."""
    listing = _run([tools.program("pg_restore"), "--list", str(file)], "reading the backup")
    return {m.group(1) for m in re.finditer(r"TABLE DATA \S+ (\S+) ", listing)}


async def _empty_public_schema(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        # A running fedblog holds locks on its tables: say so rather than wait for it forever.
        await conn.execute("SET lock_timeout = '10s'")
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    except asyncpg.LockNotAvailableError as exc:
        raise BackupError("the database is in use: stop every fedblog process (serve, worker) "
                          "before restoring") from exc
    finally:
        await conn.close()


async def restore(dsn: str, file: Path, tools: Tools) -> None:
    """Replace the database's contents with the backup's. The file is checked first; then the
    schema is emptied (so tables of later migrations cannot survive beside older data) and the
    backup restored in a single transaction."""
    if not file.is_file():
        raise BackupError(f"no such file: {file}")
    if SIGNATURE_TABLE not in tables_in(file, tools):
        raise BackupError(f"{file} is not a fedblog backup (it holds no {SIGNATURE_TABLE} table)")
    await _empty_public_schema(dsn)
    _run([tools.program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--dbname={dsn}", str(file)], "pg_restore")
