"""Static checks of the docker deployment files.

There is no Docker engine in CI, so these tests read docker/Dockerfile,
docker/compose.yaml, docker/.env.example and .dockerignore and hold them
against the repository and the real command line (``fedblog.cli.build_parser``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

BASE_IMAGE = "python:3.11-slim"
HEALTH_PATH = "/readyz"   # ready: database reachable and migrated, workers alive
FEDBLOG_SERVICES = ("migrate", "app", "worker")
EXPECTED_SUBCOMMAND = {"migrate": "migrate", "app": "serve", "worker": "worker"}
# Settings .env.example must document at the least; those fedblog/config.py
# reads are added by the test.
KNOWN_SETTINGS = {
    "POSTGRES_PASSWORD",
    "DATABASE_URL",
    "FEDBLOG_DOMAIN",
    "FEDBLOG_SCHEME",
    "FEDBLOG_USERNAME",
    "FEDBLOG_API_TOKEN",
    "FEDBLOG_DATA_DIR",
    "FEDBLOG_ALLOW_PRIVATE_ADDRESSES",
}


# --- parsing helpers -----------------------------------------------------------


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined.

    Like Docker, comment and blank lines inside a continuation are dropped.
    """
    instructions: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1].strip() + " "
            continue
        buf += line
        keyword, _, args = buf.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        buf = ""
    if buf.strip():
        keyword, _, args = buf.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def split_flags(args: str) -> tuple[list[str], str]:
    """Leading ``--flag=value`` options of an instruction, and the rest."""
    flags: list[str] = []
    rest = args
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.lstrip()
    return flags, rest


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def stages(instructions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            _, rest = split_flags(args)
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            out.append({"image": parts[0], "name": name, "body": []})
        elif out:
            out[-1]["body"].append((keyword, args))
    return out


def last(body: list[tuple[str, str]], keyword: str) -> str:
    found = [args for kw, args in body if kw == keyword]
    assert found, f"no {keyword} in the runtime stage"
    return found[-1]


def command_argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


def container_port(spec: str | int | dict[str, Any]) -> int:
    if isinstance(spec, dict):
        return int(spec["target"])
    return int(str(spec).split("/")[0].rsplit(":", 1)[-1])


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def referenced_vars(node: Any) -> set[str]:
    """Variables interpolated anywhere in a loaded compose document."""
    if isinstance(node, dict):
        return set().union(*(referenced_vars(k) | referenced_vars(v) for k, v in node.items()))
    if isinstance(node, list):
        return set().union(*(referenced_vars(v) for v in node))
    if isinstance(node, str):
        return {a or b for a, b in _VAR.findall(node.replace("$$", ""))}
    return set()


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Approximation of Docker's .dockerignore matching (last match wins,
    a match on a parent directory counts, ``!`` re-includes)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:].strip().strip("/") if negate else pattern.strip("/")
        candidates = [pat, pat[3:]] if pat.startswith("**/") else [pat]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            excluded = not negate
    return excluded


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def check_cli_invocation(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Assert ``fedblog <argv>`` is accepted; return the subcommand path."""
    path: list[str] = []
    current = parser
    while subs := subcommands(current):
        assert len(path) < len(argv), f"{argv}: missing subcommand, one of {sorted(subs)}"
        word = argv[len(path)]
        assert word in subs, f"{argv}: unknown subcommand {word!r}, CLI has {sorted(subs)}"
        current = subs[word]
        path.append(word)
    # Exact option names: argparse would also accept unambiguous prefixes.
    for token in argv[len(path) :]:
        if token.startswith("--"):
            flag = token.split("=", 1)[0]
            assert flag in current._option_string_actions, f"{argv}: {' '.join(path)} has no {flag}"
    try:
        parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports errors by exiting
        pytest.fail(f"fedblog {' '.join(argv)} rejected by the CLI (exit {exc.code})")
    return path


# --- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def runtime(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    body: list[tuple[str, str]] = stages(dockerfile)[-1]["body"]
    return body


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def cli() -> argparse.ArgumentParser:
    from fedblog.cli import build_parser

    parser: argparse.ArgumentParser = build_parser()
    return parser


@pytest.fixture(scope="module")
def documented() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if m := re.match(r"#?\s*([A-Za-z_][A-Za-z0-9_]*)=", line.strip()):
            names.add(m.group(1))
    return names


# --- Dockerfile ------------------------------------------------------------------


def test_dockerfile_is_multistage_wheel_build(dockerfile: list[tuple[str, str]]) -> None:
    all_stages = stages(dockerfile)
    assert len(all_stages) >= 2
    assert {s["image"] for s in all_stages} == {BASE_IMAGE}
    builder, final = all_stages[0], all_stages[-1]
    assert builder["name"], "the builder stage needs a name to copy from"
    assert any(kw == "RUN" and "pip wheel" in a for kw, a in builder["body"])
    installs = [a for kw, a in final["body"] if kw == "RUN" and "pip install" in a]
    assert installs and all(f"from={builder['name']}" in a for a in installs)
    assert not any(kw == "COPY" and "--from" not in a for kw, a in final["body"]), (
        "the runtime stage should get the app only as the builder's wheel"
    )


def test_runtime_runs_as_non_root(runtime: list[tuple[str, str]]) -> None:
    user = last(runtime, "USER").split(":")[0]
    assert user not in {"root", "0"}


def test_entrypoint_and_cmd_are_a_valid_cli_call(
    runtime: list[tuple[str, str]], cli: argparse.ArgumentParser
) -> None:
    assert exec_form(last(runtime, "ENTRYPOINT")) == ["fedblog"]
    cmd = exec_form(last(runtime, "CMD"))
    assert check_cli_invocation(cli, cmd) == ["serve"]
    assert "--no-workers" in cmd


def test_copy_sources_exist_and_reach_the_build_context(
    dockerfile: list[tuple[str, str]],
) -> None:
    ignore = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied: list[str] = []
    for keyword, args in dockerfile:
        if keyword not in {"COPY", "ADD"}:
            continue
        flags, rest = split_flags(args)
        if any(f.startswith("--from") for f in flags):
            continue
        parts = exec_form(rest) if rest.startswith("[") else rest.split()
        for src in parts[:-1]:
            assert list(ROOT.glob(src.rstrip("/"))), f"COPY source {src} not in the repo"
            assert not dockerignored(src, ignore), f"{src} is excluded by .dockerignore"
            copied.append(src.rstrip("/"))

    # Everything hatchling reads to build the wheel must be copied in.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    readme = pyproject["project"].get("readme")
    needed = ["pyproject.toml", *([readme] if isinstance(readme, str) else [])]
    needed += wheel.get("packages", []) + list(wheel.get("force-include", {}))
    for path in needed:
        assert any(path == c or path.startswith(c + "/") for c in copied), (
            f"the wheel build needs {path}, which the Dockerfile does not copy"
        )

    for private in (".git", ".venv", "docker/.env", "tests", "fedblog-data"):
        assert dockerignored(private, ignore), f"{private} should not be in the build context"


def test_healthcheck_probes_readyz_on_exposed_port(runtime: list[tuple[str, str]]) -> None:
    _, rest = split_flags(last(runtime, "HEALTHCHECK"))
    keyword, _, cmd = rest.partition(" ")
    assert keyword == "CMD"
    argv = exec_form(cmd)
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "<healthcheck>", "exec")
    url = re.search(r"https?://[^'\"\s]+", argv[2])
    assert url
    probe = urlsplit(url.group())
    assert probe.path == HEALTH_PATH
    assert probe.port == int(last(runtime, "EXPOSE").split("/")[0])


def test_app_serves_the_healthcheck_path() -> None:
    from starlette.routing import Match

    from fedblog.app import create_app
    from fedblog.config import Settings

    app = create_app(Settings())  # no lifespan runs, so no database is needed
    for path in (HEALTH_PATH, "/healthz"):
        scope = {"type": "http", "method": "GET", "path": path}
        assert any(route.matches(scope)[0] == Match.FULL for route in app.routes), path


def test_compose_app_healthcheck_probes_readyz(services: dict[str, dict[str, Any]],
                                               runtime: list[tuple[str, str]]) -> None:
    argv = command_argv(services["app"]["healthcheck"]["test"])
    assert argv[:4] == ["CMD", "python", "-c", argv[3]]
    compile(argv[3], "<healthcheck>", "exec")
    url = re.search(r"https?://[^'\"\s]+", argv[3])
    assert url
    probe = urlsplit(url.group())
    assert probe.path == HEALTH_PATH
    assert probe.port == int(last(runtime, "EXPOSE").split("/")[0])


# --- compose -------------------------------------------------------------------


def test_compose_has_the_services_and_no_version(compose: dict[str, Any]) -> None:
    assert "version" not in compose
    assert {"db", *FEDBLOG_SERVICES} <= set(compose["services"])


def test_fedblog_services_build_the_repo_image(services: dict[str, dict[str, Any]]) -> None:
    built = {name for name, svc in services.items() if "build" in svc}
    assert built == set(FEDBLOG_SERVICES)
    for name in FEDBLOG_SERVICES:
        build = services[name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    assert len({services[n].get("image") for n in FEDBLOG_SERVICES}) == 1


@pytest.mark.parametrize("name", FEDBLOG_SERVICES)
def test_service_command_is_a_valid_cli_call(
    name: str,
    services: dict[str, dict[str, Any]],
    runtime: list[tuple[str, str]],
    cli: argparse.ArgumentParser,
) -> None:
    svc = services[name]
    entrypoint = command_argv(svc.get("entrypoint", exec_form(last(runtime, "ENTRYPOINT"))))
    assert entrypoint == ["fedblog"]
    argv = command_argv(svc.get("command", exec_form(last(runtime, "CMD"))))
    assert check_cli_invocation(cli, argv)[0] == EXPECTED_SUBCOMMAND[name]
    if name == "app":
        assert "--no-workers" in argv, "deliveries belong to the worker service"


def test_app_port_matches_expose_and_serve(
    services: dict[str, dict[str, Any]], runtime: list[tuple[str, str]]
) -> None:
    expose = int(last(runtime, "EXPOSE").split("/")[0])
    assert [container_port(p) for p in services["app"]["ports"]] == [expose]
    argv = command_argv(services["app"]["command"])
    assert int(argv[argv.index("--port") + 1]) == expose


def test_db_service(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    db = services["db"]
    assert db["image"] == "postgres:16-alpine"
    named = [v.split(":")[0] for v in db["volumes"] if isinstance(v, str)]
    assert any(v in (compose.get("volumes") or {}) for v in named), "db needs a named volume"
    assert "pg_isready" in " ".join(command_argv(db["healthcheck"]["test"]))


def test_startup_order(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("app", "worker"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"


def test_restart_policies(services: dict[str, dict[str, Any]]) -> None:
    for name in ("db", "app", "worker"):
        assert services[name].get("restart") in {"always", "unless-stopped"}, name
    # `restart: no` unquoted would load as False; a one-shot job must not loop.
    assert services["migrate"].get("restart", "no") == "no"


def test_worker_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")


@pytest.mark.parametrize("name", ["migrate", "worker"])
def test_image_healthcheck_is_off_where_nothing_listens(
    name: str, services: dict[str, dict[str, Any]]
) -> None:
    assert services[name].get("healthcheck", {}).get("disable") is True


@pytest.mark.parametrize("name", FEDBLOG_SERVICES)
def test_database_url_points_at_db(name: str, services: dict[str, dict[str, Any]]) -> None:
    db_env = services["db"]["environment"]
    raw = services[name]["environment"]["DATABASE_URL"]
    url = urlsplit(re.sub(r"\$\{[^}]*\}", "SECRET", raw))
    assert url.scheme in {"postgresql", "postgres"}
    assert (url.hostname, url.port) == ("db", 5432)
    assert url.username == db_env["POSTGRES_USER"]
    assert url.path.lstrip("/") == db_env["POSTGRES_DB"]
    assert referenced_vars(raw) == referenced_vars(db_env["POSTGRES_PASSWORD"])


# --- .env.example -------------------------------------------------------------------


def test_env_example_documents_every_variable(
    compose: dict[str, Any], documented: set[str]
) -> None:
    config = ROOT / "fedblog" / "config.py"
    read_by_app = set(
        re.findall(r"[\"'](FEDBLOG_[A-Z0-9_]+|DATABASE_URL)[\"']", config.read_text())
        if config.exists()
        else ()
    )
    missing = (referenced_vars(compose) | KNOWN_SETTINGS | read_by_app) - documented
    assert not missing, f"not documented in docker/.env.example: {sorted(missing)}"


def test_env_example_is_a_valid_env_file() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", line), line
