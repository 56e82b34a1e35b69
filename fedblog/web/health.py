"""`GET /healthz` (the process answers) and `GET /readyz` (it can do its work: the database
answers and is migrated, and this process's queue workers, when it runs any, are alive).

For Docker's HEALTHCHECK, systemd and Kubernetes probes: 200 or 503, a small JSON body saying
which check failed, never cached."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fedblog.services import Services

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class WorkerTasks:
    """The queue workers this process runs (none with --no-workers), as the lifespan made them."""
    expected: bool
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def state(self) -> str:
        if not self.expected:
            return "not run in this process"
        stopped = sorted(name for name, task in self.tasks.items() if task.done())
        if not self.tasks:
            return "not started"
        return "ok" if not stopped else "stopped: " + ", ".join(stopped)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    services: Services | None = getattr(request.app.state, "services", None)
    workers: WorkerTasks | None = getattr(request.app.state, "workers", None)
    if services is None or workers is None:
        return JSONResponse({"status": "starting"}, status_code=503, headers=NO_STORE)
    readiness = await services.operations.readiness()
    if readiness.detail:
        log.warning("not ready: database %s", readiness.detail)
    worker_state = workers.state()
    checks = {"database": readiness.database, "migrations": readiness.migrations,
              "workers": worker_state}
    ready = readiness.ready and worker_state in ("ok", "not run in this process")
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503, headers=NO_STORE)


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
]
