"""Audit a small project from Python; runs offline (the dependency check is skipped).

Run it with ``python examples/audit_plain.py``. On the command line the same audit is
``hardpoint audit PATH --skip dependencies --skip safety --format none``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hardpoint.audit import AuditOptions, run_audit

SETTINGS = """\
DEBUG = True
"""

TASKS = """\
import subprocess


def archive(name: str) -> None:
    subprocess.call(f"tar czf {name}.tgz data", shell=True)  # TODO: escape name, injection
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "settings.py").write_text(SETTINGS)
        (project / "tasks.py").write_text(TASKS)
        options = AuditOptions(
            project,
            output_dir=None,  # no report files; pass a directory to get JSON, SARIF, ...
            skip=frozenset({"dependencies", "safety"}),  # both need a network or an OSV copy
        )
        result = run_audit(options)
        for check in result.checks:
            print(f"{check.name}: {check.status}")
        for finding in result.gating:
            print(f"{finding.path}:{finding.line} [{finding.severity}] {finding.rule_id}")
        print("exit code:", result.exit_code)
        assert result.exit_code == 1  # shell=True with an f-string is high severity


if __name__ == "__main__":
    main()
