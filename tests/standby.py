"""A real PostgreSQL streaming standby of the test server, for the replica tests.

`pg_basebackup` copies the server at 127.0.0.1:5432 (it needs a `replication` line in
pg_hba.conf for 127.0.0.1; `.ci/run` adds one and reloads the server) and a second
postmaster serves the copy as a hot standby on a free loopback port. The postmaster
refuses to run as root, so as root it runs as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


class StandbyUnavailable(Exception):
    """The standby could not be made here (no binaries, no replication permission)."""


@dataclass
class Standby:
    port: int
    datadir: Path
    process: subprocess.Popen
    log: Path

    def url_for(self, primary_url: str) -> str:
        """Return `primary_url` pointed at the standby (same database, user, driver)."""
        return make_url(primary_url).set(port=self.port).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.log.unlink(missing_ok=True)


def _bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and Path(out.stdout.strip(), "postgres").exists():
            return Path(out.stdout.strip())
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    raise StandbyUnavailable("no PostgreSQL server binaries (postgres, pg_basebackup) found")


def _primary_limits(host: str, port: int, user: str) -> dict[str, str]:
    engine = create_engine(f"postgresql+psycopg://{user}@{host}:{port}/postgres")
    try:
        with engine.connect() as conn:
            return {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in (
                "max_connections", "max_worker_processes", "max_wal_senders",
                "max_prepared_transactions", "max_locks_per_transaction")}
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres() -> tuple[list[str], int | None, int | None]:
    """Return the command prefix and owner ids to run the server as a non-root user."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as error:
        raise StandbyUnavailable("running as root and there is no `postgres` user") from error
    runuser = shutil.which("runuser") or shutil.which("su")
    if runuser is None or not runuser.endswith("runuser"):
        raise StandbyUnavailable("running as root and `runuser` is missing")
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def start_standby(*, host: str = "127.0.0.1", primary_port: int = 5432,
                  user: str = "postgres") -> Standby:
    """Copy the primary with pg_basebackup and start it as a hot standby; return it."""
    bindir = _bindir()
    prefix, uid, gid = _as_postgres()
    datadir = Path(tempfile.mkdtemp(prefix="citypoints-standby-"))
    if uid is not None:
        os.chown(datadir, uid, gid)
    datadir.chmod(0o700)
    backup = subprocess.run(
        [*prefix, str(bindir / "pg_basebackup"), "-h", host, "-p", str(primary_port), "-U", user,
         "-D", str(datadir), "-X", "stream", "-R", "-c", "fast", "-w"],
        capture_output=True, text=True, timeout=300, check=False)
    if backup.returncode != 0:
        shutil.rmtree(datadir, ignore_errors=True)
        raise StandbyUnavailable(
            "pg_basebackup failed (does pg_hba.conf allow `host replication all 127.0.0.1/32`? "
            f".ci/run adds it): {backup.stderr.strip()[-400:]}")
    # A Debian cluster keeps its configuration in /etc: the copy gets its own, minimal one,
    # with the limits a standby may not set below the primary's.
    (datadir / "postgresql.conf").write_text(
        "hot_standby = on\nhot_standby_feedback = on\nfsync = off\nshared_buffers = 32MB\n"
        + "".join(f"{name} = {value}\n" for name, value in
                  _primary_limits(host, primary_port, user).items()))
    (datadir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (datadir / "pg_ident.conf").write_text("")
    if uid is not None:
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            os.chown(datadir / name, uid, gid)
    port = _free_port()
    log = datadir.with_suffix(".log")
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*prefix, str(bindir / "postgres"), "-D", str(datadir), "-p", str(port),
             "-c", f"listen_addresses={host}", "-c", f"unix_socket_directories={datadir}"],
            stdout=log_file, stderr=subprocess.STDOUT)
    standby = Standby(port, datadir, process, log)
    engine = create_engine(f"postgresql+psycopg://{user}@{host}:{port}/postgres",
                           connect_args={"connect_timeout": 2})
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise StandbyUnavailable("the standby's postmaster stopped: "
                                         + log.read_text(errors="replace")[-400:])
            try:
                with engine.connect() as conn:
                    if conn.execute(text("SELECT pg_is_in_recovery()")).scalar():
                        break
            except Exception:  # not accepting connections yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    except BaseException:
        standby.stop()
        raise
    finally:
        engine.dispose()
    return standby
