"""pip-audit's and Safety's output mapped into findings, with stand-ins for the services.

The stand-ins are a ``pip_audit`` package put first on PYTHONPATH and a ``safety`` script
put first on PATH: the real code path runs (subprocess, JSON parsing, status) without any
network.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hardpoint.audit import AuditOptions, run_audit

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from audit._audit_plants import Project
else:  # conftest.py put this directory on sys.path
    from _audit_plants import Project

FAKE_PIP_AUDIT = """\
import json, os, sys
args = sys.argv[1:]
assert "--strict" in args and "--no-deps" in args, args
pins = open(args[args.index("--requirement") + 1]).read().split()
if os.environ.get("FAKE_SERVICE") == "down":
    sys.stderr.write("ERROR:pip_audit._cli:requests: Dependency not found on PyPI\\n")
    sys.exit(1)
deps = []
for pin in pins:
    name, version = pin.split("==")
    vulns = []
    if name == "requests":
        vulns = [{"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": [],
                  "description": "Authorization header leak\\nmore text"}]
    deps.append({"name": name, "version": version, "vulns": vulns})
print(json.dumps({"dependencies": deps, "fixes": []}))
sys.exit(1 if any(d["vulns"] for d in deps) else 0)
"""

FAKE_SAFETY = f"""\
#!{sys.executable}
import json, sys
assert sys.argv[1:3] == ["check", "--json"], sys.argv
print("+==== banner that Safety prints first ====+")
print(json.dumps({{"vulnerabilities": [{{"package_name": "flask", "vulnerability_id": "70624",
    "advisory": "Flask before 1.0 is affected"}}]}}))
sys.exit(64)
"""


@pytest.fixture
def fake_pip_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "fake-site" / "pip_audit"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", "utf-8")
    (package / "__main__.py").write_text(textwrap.dedent(FAKE_PIP_AUDIT), "utf-8")
    path = str(package.parent)
    monkeypatch.setenv("PYTHONPATH", path + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return package


def options(
    project: Project,
    tmp_path: Path,
    *,
    vuln_db: Path | None = None,
    environ: dict[str, str] | None = None,
    allow_incomplete: bool = False,
) -> AuditOptions:
    return AuditOptions(
        project.root,
        output_dir=tmp_path / "reports",
        skip=frozenset({"bandit", "secrets", "debug", "print", "todo"}),
        vuln_db=vuln_db,
        environ={} if environ is None else environ,
        allow_incomplete=allow_incomplete,
    )


def test_pip_audit_findings_are_mapped(
    planted: Project, tmp_path: Path, fake_pip_audit: Path
) -> None:
    result = run_audit(options(planted, tmp_path))
    dependencies = next(c for c in result.checks if c.name == "dependencies")
    assert dependencies.status == "findings"
    [finding] = dependencies.findings
    assert (finding.rule_id, finding.path, finding.line) == ("PYSEC-2018-28", "requirements.txt", 2)
    assert finding.message.endswith("Authorization header leak; fixed in 2.20.0")
    assert result.exit_code == 1
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text("utf-8"))
    assert report["vulnerability_database"]["source"] == "pip-audit service"


def test_a_silent_pip_audit_service_is_incomplete_not_a_pass(
    clean: Project, tmp_path: Path, fake_pip_audit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SERVICE", "down")
    result = run_audit(options(clean, tmp_path))
    dependencies = next(c for c in result.checks if c.name == "dependencies")
    assert dependencies.status == "incomplete"
    assert dependencies.detail is not None
    assert "Dependency not found on PyPI" in dependencies.detail
    assert result.exit_code == 3
    assert run_audit(options(clean, tmp_path, allow_incomplete=True)).exit_code == 0


def test_safety_runs_with_its_key_and_maps_findings(
    planted: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "safety"
    script.write_text(FAKE_SAFETY, "utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
    result = run_audit(
        options(planted, tmp_path, vuln_db=planted.vuln_db, environ={"SAFETY_API_KEY": "k"})
    )
    safety = next(c for c in result.checks if c.name == "safety")
    assert safety.status == "findings"
    assert [(f.rule_id, f.path, f.line) for f in safety.findings] == [
        ("70624", "requirements.txt", 3)
    ]
    skipped = run_audit(options(planted, tmp_path, vuln_db=planted.vuln_db, environ={}))
    assert next(c for c in skipped.checks if c.name == "safety").status == "skipped"
