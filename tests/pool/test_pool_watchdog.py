"""The psycopg command-timeout watchdog on plain sockets, without a database."""

from __future__ import annotations

import socket
import time

from hardpoint.pool._watchdog import _WATCHDOG


def _wait_readable_eof(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_an_armed_deadline_shuts_the_socket_down() -> None:
    client, server = socket.socketpair()
    with client, server:
        started = time.perf_counter()
        _WATCHDOG.arm(client.fileno(), 0.2)
        assert _wait_readable_eof(client, 2.0)  # the blocked reader wakes with end-of-file
        assert 0.15 <= time.perf_counter() - started < 1.5


def test_a_disarmed_deadline_leaves_the_socket_alone() -> None:
    client, server = socket.socketpair()
    with client, server:
        token = _WATCHDOG.arm(client.fileno(), 0.1)
        _WATCHDOG.disarm(token)
        time.sleep(0.3)
        server.sendall(b"x")
        assert client.recv(1) == b"x"


def test_deadlines_fire_in_order_whatever_the_arming_order() -> None:
    late_client, late_server = socket.socketpair()
    early_client, early_server = socket.socketpair()
    with late_client, late_server, early_client, early_server:
        _WATCHDOG.arm(late_client.fileno(), 1.0)
        _WATCHDOG.arm(early_client.fileno(), 0.1)
        assert _wait_readable_eof(early_client, 0.8)
        late_server.sendall(b"y")
        assert late_client.recv(1) == b"y"  # not yet shut down
        assert _wait_readable_eof(late_client, 2.0)
