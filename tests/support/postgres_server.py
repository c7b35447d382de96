"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, 127.0.0.1 only,
on a free port, trust authentication, gone when the session ends.

Debian's server binaries (apt's postgresql, installed by .ci/run) live in
/usr/lib/postgresql/<version>/bin; initdb refuses to run as root, so as root the server runs
as the `postgres` user the package creates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from spotiflow.settings import Settings

DATABASE = "spotiflow"
# The role the tests read the marts as, as a BI tool would (tests/conftest.py creates it).
READER_ROLE = "bi_reader"


def server_binaries() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb): `apt-get install postgresql` (.ci/run does)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def throwaway_server(folder: Path) -> Iterator[dict[str, str]]:
    """Start a server under `folder`; yields libpq's environment (PGHOST … PGDATABASE)."""
    binaries = server_binaries()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = _free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        _as_server_user([str(binaries / args[0]), *args[1:]]),
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    run("pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
        "-o", options, "start")  # fmt: skip
    try:
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DATABASE)
        yield {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGUSER": "postgres",
            "PGPASSWORD": "",
            "PGDATABASE": DATABASE,
        }
    finally:
        subprocess.run(
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )


def on_postgres(settings: Settings, database: str) -> Settings:
    """The settings, building on PostgreSQL in `database` (the `database` fixture's)."""
    return dataclasses.replace(
        settings, engine="postgres", dbt_target="postgres", postgres_database=database
    )
