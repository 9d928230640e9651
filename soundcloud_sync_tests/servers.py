"""Throw-away PostgreSQL, Redis and Celery processes for the deployment test.

Real servers from Debian's packages (`postgresql`, `redis-server`), each on a free
loopback port in its own temporary directory, stopped and removed on exit. PostgreSQL
refuses to run as root, so as root its processes run as `nobody`.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class ServerUnavailable(RuntimeError):
    """A server binary is missing or would not start: the reason says which."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerUnavailable(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerUnavailable(f"{what} did not listen on 127.0.0.1:{port} in {timeout:.0f}s")


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian keeps them off PATH)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob(PG_BIN_GLOB), key=lambda d: int(Path(d).parent.name))
    return Path(dirs[-1]) if dirs else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str, driver: str = "psycopg2") -> str:
        return (
            f"postgresql+{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def connect(self, database: str = "postgres"):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
        )

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()


def _as_postgres_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerUnavailable("running as root and `runuser` is missing: PostgreSQL refuses root")
    return [runuser, "-u", "nobody", "--", *cmd]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """initdb + pg_ctl start in a temporary directory; password auth over TCP."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        raise ServerUnavailable(
            f"PostgreSQL is not installed (no pg_ctl on PATH or in {PG_BIN_GLOB}): "
            "apt-get install postgresql"
        )
    # as root the server runs as `nobody`, who must reach the directory: /tmp, not $TMPDIR
    parent = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
    base = Path(tempfile.mkdtemp(prefix="soundcloud-sync-pg-", dir=parent))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "nobody")
    password = secrets.token_hex(12)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "nobody")
    data, port = base / "data", free_port()
    server = PostgresServer("127.0.0.1", port, "soundcloud_sync", password)
    try:
        _run(
            _as_postgres_user([
                str(bin_dir / "initdb"), "-D", str(data), "-U", server.user,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync",
            ]),
            "initdb",
        )  # fmt: skip
        _run(
            _as_postgres_user([
                str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "postgres.log"),
                "-w", "-t", "60", "start", "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            ]),
            "pg_ctl start",
            log=base / "postgres.log",
        )  # fmt: skip
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                   "-w", "stop"]),
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        if log is not None and log.exists():
            detail += log.read_text().strip().splitlines()[-5:]
        raise ServerUnavailable(f"{what} failed: {' | '.join(detail)}")


@dataclass(frozen=True)
class RedisServer:
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """redis-server on a free port, no persistence."""
    exe = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if exe is None:
        raise ServerUnavailable("redis-server is not installed: apt-get install redis-server")
    base = Path(tempfile.mkdtemp(prefix="soundcloud-sync-redis-"))
    port = free_port()
    log = (base / "redis.log").open("wb")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(base), "--protected-mode", "yes"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for_port(port, proc, "redis-server")
        yield RedisServer(port)
    finally:
        stop_process(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM (a warm shutdown for Celery and the daemon), then SIGKILL the group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def background(cmd: list[str], env: Mapping[str, str], log: Path, cwd: Path) -> Iterator:
    """A long-running process (Celery worker, dagster-daemon), output to `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            stop_process(proc)
            # what the process itself started (the daemon's code server, a run process)
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
