"""Instructions per memory-backend hit, counted by valgrind's callgrind: immune to machine noise.

Wall-clock microseconds on a shared virtual machine drift by 2x between runs; instruction
counts do not. Each contender runs in its own ``python`` under callgrind twice, with 0 and with
N calls, and the difference divided by N is its cost per call. The hardpoint row is the same
``@cached`` sync function over the default MemoryBackend as scenario 5 of cache_bench.py.

Run: ``python benchmarks/cache_instructions.py`` (needs ``valgrind`` on PATH; takes ~1 minute).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks._report import Report, Table
else:  # run as a script, benchmarks/ is on sys.path
    from _report import Report, Table

CALLS: Final = 20_000

_SETUP: Final = """
import sys, functools
sys.path.insert(0, {bench_dir!r})
from cache_bench import make_user
from hardpoint.cache import cached, configure_cache
configure_cache()

def get_user(user_id: int) -> dict:
    return make_user(user_id)

contenders = {{
    "plain": make_user,
    "lru_cache": functools.lru_cache(maxsize=None)(get_user),
    "hardpoint": cached("mem-user", ttl=300)(get_user),
}}
fn = contenders[sys.argv[1]]
for i in range(64):
    fn(i)
for i in range(int(sys.argv[2])):
    fn(i % 64)
"""

CONTENDERS: Final = {
    "plain": "plain def, no cache (body: build the dict)",
    "lru_cache": "functools.lru_cache (shared object)",
    "hardpoint": "hardpoint @cached, MemoryBackend",
}


def instructions(script: Path, contender: str, calls: int) -> int:
    """Total instructions of one run of *script* under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                str(script),
                contender,
                str(calls),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> int:
    """Print instructions per call for each contender and the ratios."""
    if shutil.which("valgrind") is None:
        print("valgrind is not on PATH (apt-get install valgrind)", file=sys.stderr)
        return 2
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
    report = Report(
        "hardpoint.cache memory hit, instructions per call",
        versions=[("python", sys.version.split()[0]), ("valgrind", valgrind.stdout.strip())],
    )
    report.print_versions()
    per_call: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.py"
        script.write_text(_SETUP.format(bench_dir=str(Path(__file__).parent)))
        for name in CONTENDERS:
            base = instructions(script, name, 0)
            full = instructions(script, name, CALLS)
            per_call[name] = (full - base) / CALLS
    table = Table(
        f"memory hit, sync def with an int arg: instructions per call ({CALLS} calls, 64 keys)",
        ["contender", "instructions per call", "x plain body"],
        notes=[
            "counted by valgrind --tool=callgrind: the difference of a run with 0 and one "
            f"with {CALLS} calls, so start-up and imports cancel out"
        ],
    )
    for name, label in CONTENDERS.items():
        table.rows.append(
            [label, f"{per_call[name]:,.0f}", f"{per_call[name] / per_call['plain']:.2f}"]
        )
    report.add(table)
    ratio = per_call["hardpoint"] / per_call["plain"]
    # The 2 us target was set on a machine where the plain body took 0.70 us: the same
    # instruction ratio to the body is what "2 us" means on any machine.
    report.target(
        "5. memory hit <= 2 us (as instructions: <= 2 / 0.70 = 2.86 x the plain body)",
        ratio <= 2.0 / 0.70,
        f"{ratio:.2f} x the plain body ({per_call['hardpoint']:,.0f} instructions)",
    )
    report.print_targets()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
