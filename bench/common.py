"""Shared pieces: the machine's own limits, percentiles, tables, results files, process meters."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def raise_nofile() -> int:
    """Lift the soft open-files limit to the hard one (thousands of peer ports need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run_async(main: Any) -> Any:
    """asyncio.run with uvloop when it is installed (the generator and peers must be cheap)."""
    try:
        import uvloop
        return uvloop.run(main)
    except ImportError:
        import asyncio
        return asyncio.run(main)


# --- the machine's own limits ---------------------------------------------------------------


def machine_limits(seconds: float = 1.0) -> dict[str, float]:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signs/s and verifies/s on one core, with `cryptography`."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    data = b"(request-target): post /inbox\nhost: example.com\ndate: Sun, 23 Nov 2025 12:00:00 GMT"
    pad, algo = padding.PKCS1v15(), hashes.SHA256()
    signature = key.sign(data, pad, algo)

    def rate(fn: Any) -> float:
        n, start = 0, time.perf_counter()
        while True:
            for _ in range(50):
                fn()
            n += 50
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return n / elapsed

    signs = rate(lambda: key.sign(data, pad, algo))
    verifies = rate(lambda: public.verify(signature, data, pad, algo))
    return {"rsa2048_signs_per_s": round(signs), "rsa2048_verifies_per_s": round(verifies),
            "cores": os.cpu_count() or 0}


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release()}


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return ordered[int(k)]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
    return str(value)


# --- results: a table per benchmark -----------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: Any
    unit: str
    target: str = ""
    ok: bool | None = None   # None: no target


@dataclass
class Report:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)

    def add(self, figure: str, value: Any, unit: str, target: str = "",
            ok: bool | None = None) -> None:
        self.rows.append(Row(figure, value, unit, target, ok))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        header = ("figure", "value", "unit", "target", "met")
        lines = [[r.figure, fmt(r.value), r.unit, r.target,
                  "" if r.ok is None else ("yes" if r.ok else "NO")] for r in self.rows]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
                  for i, h in enumerate(header)]
        out = [f"== {self.title} =="]
        if self.limits:
            out.append("machine, same run: " + ", ".join(
                f"{k} {fmt(v)}" for k, v in self.limits.items()))
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        out.append("  ".join("-" * w for w in widths))
        for line in lines:
            out.append("  ".join(c.rjust(w) if i == 1 else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(line, widths))))
        for n in self.notes:
            out.append(f"  * {n}")
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "limits": self.limits,
                "rows": [r.__dict__ for r in self.rows], "notes": self.notes,
                "details": self.details}


def save_results(reports: Iterable[Report], meta: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = "-".join(r.name for r in reports)
    path = RESULTS_DIR / f"{stamp}-{names}.json"
    path.write_text(json.dumps({"meta": meta, "reports": [r.as_json() for r in reports]},
                               indent=2, default=str))
    return path


# --- process meters ------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores)."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


class CpuMeter:
    """CPU used by named groups of processes between start() and stop(), as % of one core.

    The groups are given at both ends (pids may come and go: a new PostgreSQL backend counts
    from zero)."""

    def __init__(self) -> None:
        self._start: dict[str, dict[int, float]] = {}
        self._t0 = 0.0
        self._machine0 = 0.0
        self.result: dict[str, float] = {}

    @staticmethod
    def _sample(groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
        return {name: {pid: proc_cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}

    def start(self, groups: dict[str, list[int]]) -> None:
        self._start = self._sample(groups)
        self._t0 = time.monotonic()
        self._machine0 = machine_cpu_seconds()

    def stop(self, groups: dict[str, list[int]]) -> dict[str, float]:
        end = self._sample(groups)
        elapsed = max(1e-6, time.monotonic() - self._t0)
        machine = machine_cpu_seconds() - self._machine0
        result: dict[str, float] = {}
        accounted = 0.0
        for name, pids in end.items():
            used = sum(cpu - self._start.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
            accounted += used
            result[name] = round(100 * used / elapsed, 1)
        result["rest of machine"] = round(100 * max(0.0, machine - accounted) / elapsed, 1)
        result["machine total"] = round(100 * machine / elapsed, 1)
        self.result = result
        return result


def cpu_note(cpu: dict[str, float]) -> str:
    return "CPU, % of one core (2 cores = 200%): " + ", ".join(f"{k} {v:.0f}%" for k, v in cpu.items())


def latency_summary(values: Sequence[float]) -> dict[str, float | None]:
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "max": max(values) if values else None}
