"""Start a throwaway PgBouncer on loopback in front of an existing PostgreSQL server.

Like ``_servers.py``, this module does not import pytest, so benchmark scripts can use it.

:func:`start_pgbouncer` writes ``pgbouncer.ini`` and an auth file into a fresh temporary
directory, runs ``pgbouncer`` in the foreground on a free port of 127.0.0.1 (as the
``postgres`` user when we are root, since PgBouncer refuses to run as root)
and returns once a real ``SELECT 1`` through it works. Clients authenticate with ``trust``;
PgBouncer logs in to the upstream server as the given user (with its password, if any).

    with start_pgbouncer_for_url(os.environ["DATABASE_URL"]) as bouncer:
        engine = create_async_engine(bouncer.url.replace("postgresql:", "postgresql+psycopg:"))
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit
from uuid import uuid4

from _servers import (
    DEFAULT_TIMEOUT,
    LOOPBACK,
    ServerNotFoundError,
    ServerStartError,
    free_port,
    log_tail,
)

__all__ = [
    "PgBouncerProcess",
    "Upstream",
    "find_pgbouncer",
    "start_pgbouncer",
    "start_pgbouncer_for_url",
    "upstream_from_url",
]

_POLL: Final = 0.1  # seconds between readiness checks
_PORT_ATTEMPTS: Final = 3  # tries when another process grabs the port we picked
_SEARCH_PATH: Final = "/usr/sbin:/sbin:/usr/local/sbin"  # Debian installs it in /usr/sbin
_HINT: Final = "install it (apt-get install pgbouncer)"
_ADDRESS_IN_USE: Final = "address already in use"
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Upstream:
    """The PostgreSQL server PgBouncer forwards to, as parsed from a URL."""

    host: str = LOOPBACK
    port: int = 5432
    database: str = "test"
    user: str = "postgres"
    password: str | None = None


def upstream_from_url(url: str | None) -> Upstream:
    """Parse host, port, database, user and password from a ``postgresql://`` URL.

    Missing parts (or a missing URL) take the defaults of :class:`Upstream`: the machine's
    server, ``postgresql://postgres@127.0.0.1:5432/test``. A ``+driver`` suffix is ignored, and
    a ``?host=`` query parameter (such as a unix socket directory) wins over the netloc.
    """
    default = Upstream()
    if not url:
        return default
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query["host"][0] if query.get("host") else parts.hostname
    database = unquote(parts.path.lstrip("/"))
    return Upstream(
        host=host or default.host,
        port=parts.port or default.port,
        database=database or default.database,
        user=unquote(parts.username) if parts.username else default.user,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def find_pgbouncer() -> str:
    """Return the path of ``pgbouncer``: PATH first, then the sbin directories.

    Raises:
        ServerNotFoundError: It is not installed.
    """
    path = shutil.which("pgbouncer") or shutil.which("pgbouncer", path=_SEARCH_PATH)
    if path is None:
        msg = f"pgbouncer not found on PATH or in {_SEARCH_PATH}; {_HINT}"
        raise ServerNotFoundError(msg)
    return path


def _ini_value(value: str) -> str:
    """Quote a libpq connection-string value for the ``[databases]`` section."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _auth_value(value: str) -> str:
    """Quote a field of PgBouncer's auth file (double quotes, doubled inside)."""
    return '"' + value.replace('"', '""') + '"'


class PgBouncerProcess:
    """A foreground ``pgbouncer`` child process in its own temporary directory.

    Attributes:
        host: Address it listens on (127.0.0.1).
        port: TCP port it listens on.
        database: Database name clients use; it maps to the upstream database of the same name.
        user: User clients log in as (trust) and PgBouncer logs in to the upstream as.
        pool_mode: ``session``, ``transaction`` or ``statement``.
        directory: Temporary directory holding ``pgbouncer.ini``, ``userlist.txt`` and the log.
        log_path: PgBouncer's output (stdout and stderr).
    """

    def __init__(
        self,
        *,
        executable: str,
        directory: Path,
        upstream: Upstream,
        host: str = LOOPBACK,
        port: int = 0,
        pool_mode: str = "transaction",
        default_pool_size: int = 10,
        max_client_conn: int = 200,
        owner: tuple[int, int] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.executable = executable
        self.directory = directory
        self.upstream = upstream
        self.host = host
        self.port = port
        self.database = upstream.database
        self.user = upstream.user
        self.pool_mode = pool_mode
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.timeout = timeout
        self.ini_path = directory / "pgbouncer.ini"
        self.auth_path = directory / "userlist.txt"
        self.log_path = directory / "pgbouncer.log"
        self._owner = owner
        # A database alias only this instance knows: the readiness check connects to it, so it
        # cannot be fooled by another server that won a race for the port.
        self._probe_database = f"hardpoint_probe_{uuid4().hex[:16]}"
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PgBouncerProcess {self.host}:{self.port}/{self.database} {state}>"

    @property
    def url(self) -> str:
        """``postgresql://user@host:port/database``; no password is needed (trust)."""
        user = quote(self.user, safe="")
        return f"postgresql://{user}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    @property
    def running(self) -> bool:
        """Whether the ``pgbouncer`` process has not exited."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """Process id of ``pgbouncer``."""
        if self._process is None:
            msg = f"pgbouncer on port {self.port} is not running"
            raise RuntimeError(msg)
        return self._process.pid

    def write_config(self) -> None:
        """Write ``pgbouncer.ini`` and the auth file for :attr:`port`."""
        upstream = self.upstream
        if not _PLAIN_NAME.fullmatch(self.database):
            msg = f"database name {self.database!r} needs quoting in pgbouncer.ini; use a plain one"
            raise ValueError(msg)
        target = [
            f"host={_ini_value(upstream.host)}",
            f"port={upstream.port}",
            f"dbname={_ini_value(upstream.database)}",
            f"user={_ini_value(upstream.user)}",
        ]
        if upstream.password is not None:
            target.append(f"password={_ini_value(upstream.password)}")
        ini = "\n".join(
            [
                "; Written by tests/_pgbouncer.py for one test run.",
                "[databases]",
                f"{self.database} = {' '.join(target)}",
                f"{self._probe_database} = {' '.join(target)}",
                "",
                "[pgbouncer]",
                f"listen_addr = {self.host}",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {self.auth_path}",
                f"pool_mode = {self.pool_mode}",
                f"default_pool_size = {self.default_pool_size}",
                f"max_client_conn = {self.max_client_conn}",
                "ignore_startup_parameters = extra_float_digits,options",
                "server_login_retry = 1",
                "log_connections = 0",
                "log_disconnections = 0",
                "",
            ]
        )
        self.ini_path.write_text(ini)
        password = upstream.password if upstream.password is not None else ""
        self.auth_path.write_text(f"{_auth_value(upstream.user)} {_auth_value(password)}\n")
        if self._owner is not None:
            for path in (self.ini_path, self.auth_path):
                os.chown(path, *self._owner)
                path.chmod(0o600)

    def _query_ok(self) -> bool:
        import psycopg  # only when waiting, so importing this module needs no driver

        try:
            probe_url = self.url.rpartition("/")[0] + "/" + self._probe_database
            with psycopg.connect(probe_url, connect_timeout=2, autocommit=True) as conn:
                row = conn.execute("SELECT 1").fetchone()
        except psycopg.Error:
            return False
        return row == (1,)

    def start(self) -> None:
        """Start PgBouncer on :attr:`port` and wait until ``SELECT 1`` through it works.

        Raises:
            RuntimeError: It is already running.
            ServerStartError: It exited, or no query went through within :attr:`timeout` s.
        """
        if self._process is not None:
            msg = f"pgbouncer on port {self.port} is already running"
            raise RuntimeError(msg)
        self.write_config()
        # As root, drop to the owner right in the child (what ``runuser -u postgres --`` does),
        # so that the process we signal and reap is pgbouncer itself, not runuser: runuser
        # answers SIGTERM with a 2 s grace period and then leaves its child as a zombie.
        uid, gid = self._owner if self._owner is not None else (None, None)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.executable, str(self.ini_path)],
                user=uid,
                group=gid,
                extra_groups=[] if gid is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env={key: value for key, value in os.environ.items() if not key.startswith("PG")},
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not us
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if not self.running:
                break
            if self._query_ok():
                return
            time.sleep(_POLL)
        exit_code = self._process.poll()
        self.stop()
        what = (
            f"pgbouncer on {self.host}:{self.port} exited with code {exit_code}"
            if exit_code is not None
            else f"no SELECT 1 went through pgbouncer on {self.host}:{self.port} "
            f"to {self.upstream.host}:{self.upstream.port} in {self.timeout} s"
        )
        raise ServerStartError(f"{what}\n--- last lines of {self.log_path}:\n{self._tail()}")

    def _tail(self) -> str:
        return log_tail(self.log_path)

    def address_in_use(self) -> bool:
        """Whether the log says the port was taken (worth retrying on another port)."""
        return _ADDRESS_IN_USE in self._tail().lower()

    def stop(self) -> None:
        """Stop PgBouncer (SIGTERM, then SIGKILL) and wait for it; a no-op when stopped."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # PgBouncer's immediate shutdown
        try:
            process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=DEFAULT_TIMEOUT)

    def close(self) -> None:
        """Stop PgBouncer and delete its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _non_root_owner() -> tuple[int, int] | None:
    """Return uid/gid of ``postgres`` when we are root (PgBouncer refuses root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        msg = "running as root needs a 'postgres' user to run pgbouncer as"
        raise ServerNotFoundError(msg) from None
    return user.pw_uid, user.pw_gid


def start_pgbouncer(
    *,
    upstream_host: str = LOOPBACK,
    upstream_port: int = 5432,
    database: str = "test",
    user: str = "postgres",
    password: str | None = None,
    pool_mode: str = "transaction",
    default_pool_size: int = 10,
    max_client_conn: int = 200,
    host: str = LOOPBACK,
    port: int | None = None,
    executable: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> PgBouncerProcess:
    """Start PgBouncer in front of ``upstream_host:upstream_port`` and return it once usable.

    Clients connect to :attr:`PgBouncerProcess.url` (``postgresql://postgres@127.0.0.1:PORT/test``)
    with trust authentication; PgBouncer logs in to the upstream as *user* (with *password*).

    Args:
        upstream_host: Host (or unix socket directory) of the PostgreSQL server.
        upstream_port: Its port.
        database: Database name, the same on both sides.
        user: User for both sides.
        password: Password PgBouncer uses for the upstream, if it needs one.
        pool_mode: ``session``, ``transaction`` or ``statement``.
        default_pool_size: Server connections per database/user pair.
        max_client_conn: Client connections PgBouncer accepts.
        host: Address to listen on.
        port: TCP port; by default a free one, picked again if another process takes it first.
        executable: Path of ``pgbouncer``; by default found on PATH or in /usr/sbin.
        timeout: Seconds to wait for a query to go through it.

    Raises:
        ServerNotFoundError: ``pgbouncer`` is not installed, or cannot run as a non-root user.
        ServerStartError: It did not start or did not reach the upstream; with its log's tail.
    """
    executable = executable or find_pgbouncer()
    owner = _non_root_owner()
    upstream = Upstream(
        host=upstream_host,
        port=upstream_port,
        database=database,
        user=user,
        password=password,
    )
    directory = Path(tempfile.mkdtemp(prefix="hardpoint-pgbouncer-"))
    attempts_left = 1 if port is not None else _PORT_ATTEMPTS
    try:
        if owner is not None:
            os.chown(directory, *owner)
        while True:
            attempts_left -= 1
            server = PgBouncerProcess(
                executable=executable,
                directory=directory,
                upstream=upstream,
                host=host,
                port=port if port is not None else free_port(host=host),
                pool_mode=pool_mode,
                default_pool_size=default_pool_size,
                max_client_conn=max_client_conn,
                owner=owner,
                timeout=timeout,
            )
            try:
                server.start()
            except ServerStartError:
                if attempts_left > 0 and server.address_in_use():
                    server.log_path.unlink(missing_ok=True)
                    continue  # another process took the port between free_port() and the bind
                raise
            return server
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def start_pgbouncer_for_url(
    url: str | None,
    *,
    pool_mode: str = "transaction",
    default_pool_size: int = 10,
    max_client_conn: int = 200,
    timeout: float = DEFAULT_TIMEOUT,
) -> PgBouncerProcess:
    """Start PgBouncer in front of the server at *url* (``DATABASE_URL``; None: the defaults).

    The other arguments are those of :func:`start_pgbouncer`.
    """
    upstream = upstream_from_url(url)
    return start_pgbouncer(
        upstream_host=upstream.host,
        upstream_port=upstream.port,
        database=upstream.database,
        user=upstream.user,
        password=upstream.password,
        pool_mode=pool_mode,
        default_pool_size=default_pool_size,
        max_client_conn=max_client_conn,
        timeout=timeout,
    )
