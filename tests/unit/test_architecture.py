"""The layers, checked from the code: which package may import which (issue 13, "one road to
the data"), and no circle anywhere in the import graph — imports inside functions included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "fedblog"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The module an ImportFrom names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def imports(module: str) -> frozenset[str]:
    """Every module `module` imports, anywhere in its body (functions too). `from a import b`
    counts as importing a.b when a.b is a module, else a."""
    path = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node, path.name == "__init__.py")
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.add(child if child in modules() else target)
    return frozenset(found)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _offenders(importers: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{module} imports {target}"
                  for module in modules() if _within(module, importers)
                  for target in imports(module)
                  if any(_within(target, f) for f in forbidden))


@pytest.mark.parametrize(("importers", "forbidden"), [
    ("fedblog.web", ("fedblog.storage",)),
    ("fedblog.inbox.handlers", ("fedblog.storage",)),
    ("fedblog.storage", ("fedblog.web", "fedblog.blog")),
    ("fedblog.federation", ("fedblog.web", "fedblog.blog", "fedblog.storage")),
    ("fedblog.outbox", ("fedblog.web", "fedblog.blog")),
    ("fedblog.runtime", ("fedblog.blog", "fedblog.web", "fedblog.inbox", "fedblog.outbox")),
])
def test_layers(importers: str, forbidden: tuple[str, ...]) -> None:
    assert _offenders(importers, forbidden) == []


def test_only_storage_imports_asyncpg() -> None:
    offenders = sorted(module for module in modules() if not _within(module, "fedblog.storage")
                       and any(_within(target, "asyncpg") for target in imports(module)))
    assert offenders == []


def _edges(module: str) -> Iterator[str]:
    for target in sorted(imports(module)):
        if target in modules() and target != module:
            yield target


def _cycle() -> list[str] | None:
    """One circle in the graph of fedblog modules, if there is any (depth-first search)."""
    state: dict[str, int] = {}      # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in _edges(module):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[module] = 2
        return None

    for module in modules():
        if module not in state and (found := visit(module)) is not None:
            return found
    return None


def test_no_import_cycles() -> None:
    assert _cycle() is None


def test_the_checks_see_imports() -> None:
    """The graph is not empty by mistake: known imports are found, in functions too."""
    assert "fedblog.storage.db" in imports("fedblog.runtime")
    assert "asyncpg" in imports("fedblog.storage.db")
    assert _within("fedblog.config", "fedblog.config")
    assert not _within("fedblog.configx", "fedblog.config")
