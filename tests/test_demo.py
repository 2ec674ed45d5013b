"""`hardpoint demo` (what `make demo` runs) on a machine with no Redis or database."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from hardpoint._demo import run_demo

SERVICE_VARIABLES = ("HARDPOINT_REDIS_URL", "REDIS_URL", "DATABASE_URL")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}


def _check(output: str, name: str) -> str:
    match = re.search(rf"^  (ok  |FAIL) {re.escape(name)}: (.*)$", output, re.MULTILINE)
    assert match, f"no check {name!r} in:\n{output}"
    assert match.group(1) == "ok  ", match.group(0)
    return match.group(2)


def test_demo_command_exits_0_and_shows_every_module_at_work() -> None:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "hardpoint", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_clean_env(),
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert elapsed < 30
    assert int(_check(out, "cache hits")) > 0
    assert _check(out, "stampede database queries") == "1 for 20 requests"
    assert _check(out, "attacks blocked") == "8 of 8"
    assert _check(out, "benign requests blocked") == "0 of 6"
    assert int(_check(out, "secret reads").split(",")[0]) > 0
    assert int(_check(out, "LLM calls saved")) > 0
    assert int(_check(out, "pool checkouts")) > 0
    summary = out[out.index("hardpoint demo summary") :]
    for module in ("cache", "pool", "llm_cache", "validation", "secrets", "metrics"):
        assert re.search(rf"^\| {module} +\|", summary, re.MULTILINE), module
    assert "8 blocked: cmd 2, traversal 2, sqli 2, xss 2" in summary
    assert "1 provider call, 2 saved" in summary
    assert "1 fetch, 4 cached, 0 leaks" in summary
    assert "[##############################]" in out  # the progress bar reached its end


def test_demo_leaves_no_thread_port_or_environment_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HARDPOINT_DEMO_PAYMENT_API_KEY", raising=False)
    threads = set(threading.enumerate())
    out = io.StringIO()
    assert run_demo(out=out) == 0
    match = re.search(r"service on http://127\.0\.0\.1:(\d+)", out.getvalue())
    assert match
    assert set(threading.enumerate()) <= threads
    assert "HARDPOINT_DEMO_PAYMENT_API_KEY" not in os.environ
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=1),
    ):
        pass


def test_quiet_demo_prints_only_the_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    assert run_demo(quiet=True, out=out) == 0
    assert out.getvalue().startswith("\nhardpoint demo summary\n")
    assert "[" not in out.getvalue().split("summary", 1)[0]


def test_serve_keeps_the_service_up_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hardpoint", "demo", "--serve", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            match = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", line)
            if match:
                url = match.group(1)
                break
        assert url, process.stderr.read() if process.stderr else ""
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310
            body = response.read().decode()
        assert "hardpoint_cache_requests_total" in body
        with urllib.request.urlopen(f"{url}/products/sku-1", timeout=10) as response:  # noqa: S310
            assert b"Trail running shoe" in response.read()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "stopped" in stdout


def test_demo_without_its_extras_names_them() -> None:
    code = (
        "import sys, io\n"
        "sys.modules['uvicorn'] = None\n"
        "from hardpoint._demo import run_demo\n"
        "out = io.StringIO()\n"
        "status = run_demo(out=out)\n"
        "print(status, out.getvalue())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_clean_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 ")
    assert "hardpoint[all]" in result.stdout


def test_readme_example_is_the_tested_example() -> None:
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text()
    example = (root / "examples" / "fastapi_all.py").read_text()
    marked = example.split("# --8<-- [start:readme]\n")[1]
    marked = marked.split("# --8<-- [end:readme]")[0].strip()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert marked in [block.strip() for block in blocks]
