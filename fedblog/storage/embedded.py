"""An embedded PostgreSQL (the pgserver wheel) for running without DATABASE_URL.

pgserver logs every command it runs with its whole output (initdb's pages of text) at INFO,
and its import warns about XDG_RUNTIME_DIR through platformdirs: both are kept out of
fedblog's log. What fails still reaches it (pgserver logs failures at ERROR)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pgserver
    from pgserver._commands import POSTGRES_BIN_PATH

log = logging.getLogger(__name__)
logging.getLogger("pgserver").setLevel(logging.WARNING)


def bin_dir() -> Path:
    """The folder of the embedded PostgreSQL's programs (postgres, pg_dump, pg_restore, psql)."""
    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """Starts (or reuses) a PostgreSQL cluster stored in `<data_dir>/postgres`."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self) -> str:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        fresh = not (self.pgdata / "PG_VERSION").exists()
        # cleanup_mode='stop' stops the server when this process exits; the data stays.
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        uri = str(self._server.get_uri())
        log.info("embedded PostgreSQL %s %s", "created in" if fresh else "running in", self.pgdata)
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
