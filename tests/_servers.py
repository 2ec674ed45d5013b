"""Start throwaway Redis, Redis Cluster and PostgreSQL servers on loopback.

The fixtures in ``conftest.py`` and the benchmark scripts share these helpers, so this module
does not import pytest at module level (only :func:`skip_or_fail` imports it, when called).

Every helper picks a free port on 127.0.0.1, works in a fresh temporary directory, writes the
server's output to a log file there and, when the server does not come up, raises
:class:`ServerStartError` with the tail of that log. Every wait is bounded. The returned objects
are context managers: leaving the ``with`` block stops the server and deletes its directory.

    with start_redis() as redis_server:
        client = redis.Redis.from_url(redis_server.url)
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from types import TracebackType
from typing import Final, NoReturn, Self
from urllib.parse import unquote, urlsplit

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOOPBACK",
    "PostgresProcess",
    "RedisClusterEndpoint",
    "RedisClusterProcess",
    "RedisProcess",
    "RedisReplyError",
    "ServerNotFoundError",
    "ServerStartError",
    "cluster_endpoint_from_url",
    "free_port",
    "redis_command",
    "skip_or_fail",
    "start_postgres",
    "start_redis",
    "start_redis_cluster",
]

LOOPBACK: Final = "127.0.0.1"
DEFAULT_TIMEOUT: Final = 20.0  # seconds for a server to come up, or to go down
_POLL: Final = 0.05  # seconds between readiness checks
_PORT_ATTEMPTS: Final = 3  # tries when another process grabs the port we picked
_CLUSTER_BUS_OFFSET: Final = 10_000  # Redis Cluster listens on port + 10000 too
_ADDRESS_IN_USE: Final = "address already in use"
_POSTGRES_SEARCH_DIRS: Final = ("/usr/lib/postgresql/*/bin",)


class ServerNotFoundError(RuntimeError):
    """A server program is not installed; the message says what is missing."""


class ServerStartError(RuntimeError):
    """A server program is installed but did not start; the message ends with its log."""


class RedisReplyError(RuntimeError):
    """Redis answered a command with an error reply."""


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test for *reason*, or fail it when the ``CI`` variable is set.

    A missing service is a skip on a laptop but a failure in CI, where every service must run.
    """
    import pytest  # here, not at the top, so that benchmark scripts need no pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (a failure, not a skip, because CI is set)", pytrace=False)
    pytest.skip(reason)


def free_port(*, host: str = LOOPBACK, cluster_bus: bool = False) -> int:
    """Return a TCP port on *host* that nothing listens on right now.

    Another process may take it before the caller binds it; the ``start_*`` helpers retry.

    Args:
        host: Address to bind.
        cluster_bus: Also require port + 10000 to be free and valid (Redis Cluster's bus port).
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if not cluster_bus:
            return port
        bus_port = port + _CLUSTER_BUS_OFFSET
        if bus_port > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, bus_port))
            except OSError:
                continue
        return port
    msg = f"found no free port on {host}"
    raise ServerStartError(msg)


def log_tail(path: Path, *, lines: int = 30) -> str:
    """The last *lines* of a server log, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"({path} is empty)"


def _start_error(what: str, *logs: Path) -> ServerStartError:
    tails = "".join(f"\n--- last lines of {log}:\n{log_tail(log)}" for log in logs)
    return ServerStartError(f"{what}{tails}")


def _address_in_use(log: Path) -> bool:
    return _ADDRESS_IN_USE in log_tail(log).lower()


def _wait_for(
    ready: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    """Poll *ready* until it is true (True), *alive* turns false or *timeout* passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        with contextlib.suppress(OSError, RedisReplyError):
            if ready():
                return True
        time.sleep(_POLL)
    return False


# --- Redis -------------------------------------------------------------------------------------


def _encode_command(args: Sequence[str]) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def redis_command(
    host: str,
    port: int,
    *args: str,
    timeout: float = 1.0,
    username: str | None = None,
    password: str | None = None,
) -> str:
    """Send one command to Redis over a fresh connection and return the reply as text.

    A dependency-free RESP client for readiness checks; it understands simple strings,
    errors, integers and bulk strings, which is what PING, INFO and CLUSTER INFO/NODES return.

    Raises:
        RedisReplyError: Redis answered with an error.
        OSError: The connection failed or timed out.
    """
    commands = [args]
    if password is not None:
        commands.insert(0, ("AUTH", username, password) if username else ("AUTH", password))
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        sock.makefile("rb") as reader,
    ):
        sock.sendall(b"".join(_encode_command(command) for command in commands))
        reply = ""
        for _ in commands:
            reply = _read_reply(reader)
        return reply


def _read_reply(reader: BufferedReader) -> str:
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        msg = "connection closed before a full reply"
        raise ConnectionError(msg)
    kind, body = line[:1], line[1:-2].decode(errors="replace")
    if kind in (b"+", b":"):
        return body
    if kind == b"-":
        raise RedisReplyError(body)
    if kind == b"$":
        length = int(body)
        if length < 0:
            return ""
        data = reader.read(length + 2)
        if len(data) != length + 2:
            msg = "connection closed inside a bulk reply"
            raise ConnectionError(msg)
        return data[:-2].decode(errors="replace")
    msg = f"unsupported Redis reply type {kind!r}"
    raise RedisReplyError(msg)


def _redis_pid(host: str, port: int) -> int | None:
    info = redis_command(host, port, "INFO", "server", timeout=0.5)
    for line in info.splitlines():
        if line.startswith("process_id:"):
            return int(line.partition(":")[2])
    return None


class RedisProcess:
    """A ``redis-server`` child process that a test may stop, restart, freeze and thaw.

    Attributes:
        host: Address it listens on.
        port: TCP port; it stays the same across :meth:`stop` and :meth:`start`.
        directory: Working directory (``--dir``), also holding the log.
        log_path: File that receives the server's output, appended to on each start.
    """

    def __init__(
        self,
        *,
        executable: str,
        port: int,
        directory: Path,
        host: str = LOOPBACK,
        cluster: bool = False,
        extra_args: Sequence[str] = (),
        owns_directory: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.executable = executable
        self.host = host
        self.port = port
        self.directory = directory
        self.cluster = cluster
        self.extra_args = tuple(extra_args)
        self.log_path = directory / f"redis-{port}.log"
        self.timeout = timeout
        self._owns_directory = owns_directory
        self._process: subprocess.Popen[bytes] | None = None
        self._frozen = False

    def __repr__(self) -> str:
        state = "frozen" if self._frozen else "running" if self.running else "stopped"
        return f"<RedisProcess {self.host}:{self.port} {state}>"

    @property
    def url(self) -> str:
        """``redis://host:port/0``, or ``redis://host:port`` for a cluster node."""
        base = f"redis://{self.host}:{self.port}"
        return base if self.cluster else f"{base}/0"

    @property
    def running(self) -> bool:
        """Whether the process exists (a frozen process still runs)."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """Process id of the running server."""
        if self._process is None:
            msg = f"redis-server on port {self.port} is not running"
            raise RuntimeError(msg)
        return self._process.pid

    def command_line(self) -> list[str]:
        """Return the ``redis-server`` argument list used by :meth:`start`."""
        args = [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        if self.cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{self.port}.conf",
            ]
        return args + list(self.extra_args)

    def start(self) -> None:
        """Start the server on :attr:`port` and wait until it answers as this process.

        Raises:
            RuntimeError: It is already running.
            ServerStartError: It exited or did not answer within :attr:`timeout` seconds.
        """
        if self._process is not None:
            msg = f"redis-server on port {self.port} is already running"
            raise RuntimeError(msg)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                self.command_line(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not us
            )
        self._process = process
        # The PID check makes sure we talk to our server, not to one that won a port race.
        answered = _wait_for(
            lambda: _redis_pid(self.host, self.port) == process.pid,
            timeout=self.timeout,
            alive=lambda: process.poll() is None,
        )
        if not answered:
            exit_code = process.poll()
            self._kill()
            what = (
                f"redis-server on {self.host}:{self.port} exited with code {exit_code}"
                if exit_code is not None
                else f"redis-server on {self.host}:{self.port} did not answer in {self.timeout} s"
            )
            raise _start_error(what, self.log_path)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)
            self._frozen = False
        process.kill()
        process.wait(timeout=DEFAULT_TIMEOUT)

    def stop(self) -> None:
        """Kill the server (thawing it first) and wait for it to exit; a no-op when stopped."""
        self._kill()

    def restart(self) -> None:
        """Stop the server and start it again on the same port, with an empty dataset."""
        self.stop()
        self.start()

    def freeze(self) -> None:
        """Suspend the server with SIGSTOP: connections stay open but nothing answers."""
        os.kill(self.pid, signal.SIGSTOP)
        self._frozen = True
        _wait_for(lambda: _process_state(self.pid) in ("T", None), timeout=self.timeout)

    def thaw(self) -> None:
        """Resume a frozen server with SIGCONT."""
        os.kill(self.pid, signal.SIGCONT)
        self._frozen = False

    def close(self) -> None:
        """Stop the server and delete its directory when this object created it."""
        self.stop()
        if self._owns_directory:
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


def _process_state(pid: int) -> str | None:
    """Return the Linux process state letter (``T`` when stopped), or None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _require(program: str, hint: str) -> str:
    path = shutil.which(program)
    if path is None:
        msg = f"{program} not found on PATH; {hint}"
        raise ServerNotFoundError(msg)
    return path


_REDIS_HINT: Final = "set REDIS_URL, or install it (apt-get install redis-server)"


def start_redis(
    *,
    port: int | None = None,
    host: str = LOOPBACK,
    directory: Path | None = None,
    cluster: bool = False,
    extra_args: Sequence[str] = (),
    executable: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RedisProcess:
    """Start ``redis-server`` without persistence and return it once it answers.

    Args:
        port: TCP port; by default a free one, picked again if another process takes it first.
        host: Address to listen on.
        directory: Working directory; by default a new temporary one, deleted by ``close()``.
        cluster: Start a Redis Cluster node (``--cluster-enabled yes``).
        extra_args: More ``redis-server`` options, such as ``["--maxmemory", "10mb"]``.
        executable: Path of ``redis-server``; by default the one on PATH.
        timeout: Seconds to wait for it to answer.

    Raises:
        ServerNotFoundError: ``redis-server`` is not installed.
        ServerStartError: It did not start; the message holds the end of its log.
    """
    executable = executable or _require("redis-server", _REDIS_HINT)
    owns_directory = directory is None
    workdir = Path(tempfile.mkdtemp(prefix="hardpoint-redis-")) if directory is None else directory
    attempts_left = 1 if port is not None else _PORT_ATTEMPTS
    while True:
        attempts_left -= 1
        server = RedisProcess(
            executable=executable,
            port=port if port is not None else free_port(host=host, cluster_bus=cluster),
            host=host,
            directory=workdir,
            cluster=cluster,
            extra_args=extra_args,
            owns_directory=owns_directory,
            timeout=timeout,
        )
        try:
            server.start()
        except ServerStartError:
            if attempts_left > 0 and _address_in_use(server.log_path):
                continue  # another process took the port between free_port() and the bind
            server.close()
            raise
        return server


# --- Redis Cluster -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisClusterEndpoint:
    """Where a Redis Cluster listens: a URL for ``RedisCluster.from_url`` and every node."""

    url: str
    nodes: tuple[tuple[str, int], ...]


class RedisClusterProcess:
    """A Redis Cluster of local ``redis-server`` nodes, every slot assigned, no replicas.

    Attributes:
        servers: The node processes; a test may stop or freeze one of them.
        directory: Working directory shared by the nodes.
    """

    def __init__(self, *, servers: Sequence[RedisProcess], directory: Path) -> None:
        self.servers = list(servers)
        self.directory = directory

    def __repr__(self) -> str:
        return f"<RedisClusterProcess {self.nodes}>"

    @property
    def url(self) -> str:
        """URL of the first node, enough for a cluster client to discover the others."""
        return self.servers[0].url

    @property
    def nodes(self) -> tuple[tuple[str, int], ...]:
        """``(host, port)`` of every node."""
        return tuple((server.host, server.port) for server in self.servers)

    @property
    def endpoint(self) -> RedisClusterEndpoint:
        """The URL and the nodes, without the processes."""
        return RedisClusterEndpoint(url=self.url, nodes=self.nodes)

    def stop(self) -> None:
        """Kill every node."""
        for server in self.servers:
            server.stop()

    def close(self) -> None:
        """Kill every node and delete the working directory."""
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


def _cluster_ready(servers: Sequence[RedisProcess]) -> bool:
    for server in servers:
        info = redis_command(server.host, server.port, "CLUSTER", "INFO", timeout=0.5)
        fields = dict(line.partition(":")[::2] for line in info.splitlines())
        if fields.get("cluster_state") != "ok":
            return False
        if fields.get("cluster_known_nodes") != str(len(servers)):
            return False
    return True


def start_redis_cluster(
    *,
    size: int = 3,
    host: str = LOOPBACK,
    redis_server: str | None = None,
    redis_cli: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RedisClusterProcess:
    """Start *size* cluster nodes, join them with ``redis-cli --cluster create`` and wait.

    Returns once ``CLUSTER INFO`` reports ``cluster_state:ok`` and every node on every node.

    Raises:
        ServerNotFoundError: ``redis-server`` or ``redis-cli`` is not installed.
        ServerStartError: A node did not start or the cluster did not form in time.
    """
    if size < 3:
        msg = f"a Redis Cluster needs at least 3 masters, not {size}"
        raise ValueError(msg)
    redis_server = redis_server or _require("redis-server", _REDIS_HINT)
    redis_cli = redis_cli or _require("redis-cli", _REDIS_HINT)
    directory = Path(tempfile.mkdtemp(prefix="hardpoint-redis-cluster-"))
    cluster = RedisClusterProcess(servers=[], directory=directory)
    try:
        for _ in range(size):
            cluster.servers.append(
                start_redis(
                    host=host,
                    directory=directory,
                    cluster=True,
                    executable=redis_server,
                    timeout=timeout,
                )
            )
        create_log = directory / "cluster-create.log"
        with create_log.open("wb") as log:
            try:
                result = subprocess.run(
                    [
                        redis_cli,
                        "--cluster",
                        "create",
                        *(f"{node_host}:{node_port}" for node_host, node_port in cluster.nodes),
                        "--cluster-replicas",
                        "0",
                        "--cluster-yes",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                what = f"redis-cli --cluster create did not finish in {timeout} s"
                raise _start_error(what, create_log) from exc
        if result.returncode != 0:
            what = f"redis-cli --cluster create exited with code {result.returncode}"
            raise _start_error(what, create_log, *(server.log_path for server in cluster.servers))
        if not _wait_for(lambda: _cluster_ready(cluster.servers), timeout=timeout):
            what = f"the cluster {cluster.nodes} did not reach cluster_state:ok in {timeout} s"
            raise _start_error(what, create_log, *(server.log_path for server in cluster.servers))
    except BaseException:
        cluster.close()
        raise
    return cluster


def cluster_endpoint_from_url(url: str, *, timeout: float = 2.0) -> RedisClusterEndpoint:
    """Describe the running cluster behind *url* (such as ``REDIS_CLUSTER_URL``).

    Asks the node in *url* for ``CLUSTER NODES`` and lists every node it knows.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or LOOPBACK, parts.port or 6379
    reply = redis_command(
        host,
        port,
        "CLUSTER",
        "NODES",
        timeout=timeout,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
    nodes: list[tuple[str, int]] = []
    for line in reply.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        # "<id> <ip>:<port>@<bus-port>[,<hostname>] <flags> ..."; an empty ip means "myself".
        address = fields[1].split("@", 1)[0]
        node_host, _, node_port = address.rpartition(":")
        nodes.append((node_host or host, int(node_port)))
    return RedisClusterEndpoint(url=url, nodes=tuple(sorted(nodes)))


# --- PostgreSQL --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PostgresTools:
    initdb: str
    pg_ctl: str
    createdb: str


def _find_postgres_tools(search_dirs: Sequence[str]) -> _PostgresTools:
    """Find initdb, pg_ctl and createdb from one installation: PATH first, then *search_dirs*."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path is not None:
        # Debian links /usr/local/bin/initdb into /usr/lib/postgresql/N/bin: use its siblings.
        candidates += [Path(on_path).resolve().parent, Path(on_path).parent]
    for pattern in search_dirs:
        found = [Path(match) for match in glob.glob(pattern)]
        candidates += sorted(found, key=_version_key, reverse=True)
    for directory in candidates:
        initdb, pg_ctl = directory / "initdb", directory / "pg_ctl"
        if not (os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK)):
            continue
        createdb = directory / "createdb"
        createdb_path = str(createdb) if os.access(createdb, os.X_OK) else shutil.which("createdb")
        if createdb_path is not None:
            return _PostgresTools(initdb=str(initdb), pg_ctl=str(pg_ctl), createdb=createdb_path)
    where = ", ".join(["PATH", *search_dirs])
    msg = (
        f"PostgreSQL (initdb, pg_ctl, createdb) not found in {where}; "
        "set DATABASE_URL, or install it (apt-get install postgresql)"
    )
    raise ServerNotFoundError(msg)


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: the newest version first."""
    digits = path.parent.name.split(".")
    return tuple(int(part) for part in digits if part.isdigit())


def _run_as_postgres_user() -> tuple[list[str], int | None, int | None]:
    """Return the command prefix and ``postgres`` uid/gid when running as root, else no prefix.

    PostgreSQL refuses to run as root, so as root every server command goes through runuser.
    """
    if os.geteuid() != 0:
        return [], None, None
    # A minimal PATH may lack the sbin directories, where runuser lives.
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = None
    if runuser is None or user is None:
        msg = "running as root needs runuser and a 'postgres' user to start PostgreSQL"
        raise ServerNotFoundError(msg)
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


_POSTGRES_CONF: Final = """
# Added by tests/_servers.py: loopback only, and fast rather than durable.
listen_addresses = '{host}'
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PostgresProcess:
    """A PostgreSQL server in a temporary directory, managed with ``pg_ctl``.

    Attributes:
        host: The only address it listens on; its unix socket is in ``directory/socket``.
        port: TCP port.
        database: Name of the database created for the tests.
        directory: Temporary directory with ``data/``, ``socket/`` and the logs.
        log_path: The server log (written by the server, as the ``postgres`` user under root).
        commands_log_path: Output of ``initdb``, ``pg_ctl`` and ``createdb``.
    """

    def __init__(
        self,
        *,
        tools: _PostgresTools,
        directory: Path,
        host: str = LOOPBACK,
        port: int = 0,
        database: str = "test",
        run_as: Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.database = database
        self.directory = directory
        self.data_dir = directory / "data"
        self.socket_dir = directory / "socket"
        self.log_path = directory / "postgres.log"
        self.commands_log_path = directory / "commands.log"
        self.timeout = timeout
        self._tools = tools
        self._run_as = list(run_as)
        self._running = False

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<PostgresProcess {self.host}:{self.port}/{self.database} {state}>"

    @property
    def url(self) -> str:
        """``postgresql://postgres@host:port/database`` (trust authentication)."""
        return f"postgresql://postgres@{self.host}:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`stop` has not run since."""
        return self._running

    @property
    def pid(self) -> int:
        """Process id of the postmaster, read from ``postmaster.pid``."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def _run(self, what: str, args: Sequence[str]) -> None:
        with self.commands_log_path.open("ab") as output:
            output.write(f"$ {' '.join(args)}\n".encode())
            output.flush()
            try:
                result = subprocess.run(
                    [*self._run_as, *args],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self.directory,  # the postgres user may not enter our working directory
                    env=_clean_env(),
                    timeout=self.timeout + 10,  # pg_ctl has its own, shorter --timeout
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                what = f"{what} did not finish in {self.timeout + 10} s"
                raise _start_error(what, self.commands_log_path, self.log_path) from exc
        if result.returncode != 0:
            what = f"{what} exited with code {result.returncode}"
            raise _start_error(what, self.commands_log_path, self.log_path)

    def init(self) -> None:
        """Create the data directory with ``initdb``: user ``postgres``, trust authentication."""
        self.socket_dir.mkdir(exist_ok=True)
        self._run(
            "initdb",
            [
                self._tools.initdb,
                "--pgdata",
                str(self.data_dir),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_POSTGRES_CONF.format(host=self.host, socket_dir=self.socket_dir))

    def start(self) -> None:
        """Start the server on :attr:`port` and wait until it accepts connections.

        Raises:
            ServerStartError: ``pg_ctl start`` failed; the message holds the server log.
        """
        self._run(
            f"pg_ctl start on port {self.port}",
            [
                self._tools.pg_ctl,
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_path),
                "--options",
                f"-p {self.port}",
                "--wait",
                "--timeout",
                str(int(self.timeout)),
            ],
        )
        self._running = True

    def create_database(self, name: str) -> None:
        """Create the database *name* with ``createdb``, over TCP."""
        self._run(
            f"createdb {name}",
            [
                self._tools.createdb,
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--username",
                "postgres",
                name,
            ],
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown; SIGQUIT if that fails); a no-op when stopped."""
        if not self._running:
            return
        self._running = False
        try:
            self._run(
                "pg_ctl stop",
                [
                    self._tools.pg_ctl,
                    "stop",
                    "--pgdata",
                    str(self.data_dir),
                    "--mode",
                    "fast",
                    "--wait",
                    "--timeout",
                    str(int(self.timeout)),
                ],
            )
        except ServerStartError:
            with contextlib.suppress(OSError, ValueError):
                os.kill(self.pid, signal.SIGQUIT)  # PostgreSQL's "immediate shutdown"

    def close(self) -> None:
        """Stop the server and delete its directory."""
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


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables, which would redirect pg_ctl and createdb."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def start_postgres(
    *,
    port: int | None = None,
    host: str = LOOPBACK,
    database: str = "test",
    search_dirs: Sequence[str] = _POSTGRES_SEARCH_DIRS,
    timeout: float = DEFAULT_TIMEOUT,
) -> PostgresProcess:
    """Create a cluster with ``initdb`` (trust auth), start it and create *database*.

    As root, the server runs as the ``postgres`` user through ``runuser``, since PostgreSQL
    refuses to run as root; its directory is then owned by ``postgres``.

    Args:
        port: TCP port; by default a free one, picked again if another process takes it first.
        host: The only address it listens on; the unix socket lives in the temporary directory.
        database: Database to create; :attr:`PostgresProcess.url` points at it.
        search_dirs: Glob patterns of ``bin`` directories to try after PATH.
        timeout: Seconds to wait for the server to start.

    Raises:
        ServerNotFoundError: PostgreSQL is not installed, or cannot be run as a non-root user.
        ServerStartError: It did not start; the message holds the end of its logs.
    """
    tools = _find_postgres_tools(search_dirs)
    run_as, uid, gid = _run_as_postgres_user()
    directory = Path(tempfile.mkdtemp(prefix="hardpoint-postgres-"))
    server = PostgresProcess(
        tools=tools,
        directory=directory,
        host=host,
        database=database,
        run_as=run_as,
        timeout=timeout,
    )
    try:
        if uid is not None and gid is not None:
            server.socket_dir.mkdir()
            os.chown(directory, uid, gid)
            os.chown(server.socket_dir, uid, gid)
        server.init()
        attempts = 1 if port is not None else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            server.port = port if port is not None else free_port(host=host)
            try:
                server.start()
            except ServerStartError:
                if attempt < attempts and _address_in_use(server.log_path):
                    continue
                raise
            break
        server.create_database(database)
    except BaseException:
        server.close()
        raise
    return server
