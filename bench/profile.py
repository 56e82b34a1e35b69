"""py-spy around a timed window, and a summary of where the samples fell.

py-spy is a tool, not a dependency: `.venv/bin/pip install py-spy`. Without it, --profile is
skipped with a note.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.common import RESULTS_DIR


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record --format raw` on some pids for `seconds`; summarize() after."""

    def __init__(self, label: str, pids: dict[str, int], seconds: float, rate: int = 97) -> None:
        self.label = label
        self.pids = pids
        self.seconds = seconds
        self.rate = rate
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.files: dict[str, Path] = {}

    async def start(self) -> bool:
        exe = py_spy()
        if exe is None:
            return False
        RESULTS_DIR.mkdir(exist_ok=True)
        for name, pid in self.pids.items():
            out = RESULTS_DIR / f"profile-{self.label}-{name}.txt"
            self.files[name] = out
            self.procs[name] = await asyncio.create_subprocess_exec(
                exe, "record", "--pid", str(pid), "--duration", str(int(self.seconds)),
                "--rate", str(self.rate), "--format", "raw", "--nonblocking", "--output", str(out),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        return True

    async def wait(self) -> dict[str, dict[str, object]]:
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), timeout=self.seconds + 30)
            except TimeoutError:
                proc.kill()
        return {name: summarize(path, self.seconds, self.rate) for name, path in self.files.items()}


def _name(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "module.py:function"
    func, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{file}:{func}"


def summarize(path: Path, seconds: float, rate: int, top: int = 20) -> dict[str, object]:
    """Busy share of the process, and the top functions by inclusive and by self samples."""
    if not path.exists():
        return {"error": "no profile written"}
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_name(f) for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    if total == 0:
        return {"error": "no samples"}
    # the trunk every sample passes through (event loop, runners, main) says nothing
    trunk = {name for name, n in inclusive.items() if n > 0.8 * total}
    for name in trunk:
        del inclusive[name]
    return {
        "busy_share_of_one_core": round(total / (seconds * rate), 2),
        "samples": total,
        "inclusive_pct": [(k, round(100 * v / total, 1)) for k, v in inclusive.most_common(top)],
        "self_pct": [(k, round(100 * v / total, 1)) for k, v in own.most_common(top)],
        "file": str(path),
    }


def profile_note(name: str, summary: dict[str, object], top: int = 8) -> str:
    if "error" in summary:
        return f"profile {name}: {summary['error']}"
    incl = ", ".join(f"{k} {v}%" for k, v in summary["inclusive_pct"][:top])  # type: ignore[index]
    own = ", ".join(f"{k} {v}%" for k, v in summary["self_pct"][:top])  # type: ignore[index]
    return (f"profile {name} (busy ≈ {summary['busy_share_of_one_core']} of a core): "
            f"inclusive: {incl}; self: {own}")
