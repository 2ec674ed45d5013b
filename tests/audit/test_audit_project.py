"""End to end: the planted project, its clean twin, the reports and every exit code."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from hardpoint._cli import main

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from audit._audit_plants import NEWEST_MODIFIED, PLANTED_SECRETS, Project
else:  # conftest.py put this directory on sys.path
    from _audit_plants import NEWEST_MODIFIED, PLANTED_SECRETS, Project

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text("utf-8"))

# (check, rule, file) for every plant.
EXPECTED = {
    ("secrets", "secret-aws-access-key-id", "app/settings.py"),
    ("secrets", "secret-aws-secret-access-key", "app/settings.py"),
    ("secrets", "secret-stripe-key", "app/settings.py"),
    ("secrets", "secret-github-token", "app/settings.py"),
    ("secrets", "secret-generic", "app/settings.py"),
    ("secrets", "secret-stripe-key", ".env"),
    ("secrets", "secret-github-token", ".env"),
    ("debug", "debug-enabled", "app/settings.py"),
    ("debug", "debug-enabled", ".env"),
    ("debug", "debug-enabled", "config.yaml"),
    ("bandit", "B602", "app/core.py"),  # subprocess with shell=True
    ("bandit", "B506", "app/core.py"),  # yaml.load
    ("bandit", "B301", "app/core.py"),  # pickle.loads
    ("bandit", "B324", "app/core.py"),  # md5 for passwords
    ("print", "print-in-library", "app/core.py"),
    ("todo", "security-todo", "app/core.py"),
    ("dependencies", "PYSEC-2018-28", "requirements.txt"),
    ("dependencies", "GHSA-562c-5r94-xh97", "requirements.txt"),
}


def audit(project: Project, out: Path, *extra: str, db: bool = True) -> tuple[int, dict[str, Any]]:
    args = ["audit", str(project.root), "--output-dir", str(out), *extra]
    if db:
        args += ["--vuln-db", str(project.vuln_db)]
    code = main(args)
    reports = sorted(out.glob("security_audit_*.json"))
    document = json.loads(reports[-1].read_text("utf-8")) if reports else {}
    return code, document


def found(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["check"], f["rule_id"], f["path"]) for f in document["findings"]}


@pytest.fixture
def planted_run(
    planted: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any], Path, str]:
    out = tmp_path / "reports"
    code, document = audit(planted, out)
    return code, document, out, capsys.readouterr().out


def test_every_plant_is_found_by_rule_and_file(
    planted_run: tuple[int, dict[str, Any], Path, str],
) -> None:
    code, document, _out, _stdout = planted_run
    assert code == 1
    missing = EXPECTED - found(document)
    assert not missing, missing


def test_planted_findings_carry_severity_and_lines(
    planted_run: tuple[int, dict[str, Any], Path, str],
) -> None:
    _code, document, _out, _stdout = planted_run
    by_rule = {(f["rule_id"], f["path"]): f for f in document["findings"]}
    aws = by_rule[("secret-aws-secret-access-key", "app/settings.py")]
    assert (aws["severity"], aws["line"]) == ("critical", 5)
    assert by_rule[("B602", "app/core.py")]["severity"] == "high"
    requests = by_rule[("PYSEC-2018-28", "requirements.txt")]
    assert (requests["severity"], requests["line"]) == ("high", 2)
    assert "fixed in 2.20.0" in requests["message"]
    flask = by_rule[("GHSA-562c-5r94-xh97", "requirements.txt")]
    assert (flask["severity"], flask["line"]) == ("critical", 3)


def test_excluded_directories_and_non_library_code_are_not_reported(
    planted_run: tuple[int, dict[str, Any], Path, str],
) -> None:
    _code, document, _out, _stdout = planted_run
    paths = {f["path"] for f in document["findings"]}
    assert not any(p.startswith((".venv/", "node_modules/")) for p in paths)
    prints = {f["path"] for f in document["findings"] if f["rule_id"] == "print-in-library"}
    assert prints == {"app/core.py"}  # not tests/ nor the cli module
    assert not any(f["rule_id"] == "B101" for f in document["findings"])
    generic = [f for f in document["findings"] if f["rule_id"] == "secret-generic"]
    assert [f["path"] for f in generic] == ["app/settings.py"]  # changeme and ${API_KEY} pass


def test_the_clean_twin_has_no_findings_and_exits_0(
    clean: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = audit(clean, tmp_path / "reports")
    assert document["findings"] == []
    assert code == 0
    statuses = {c["name"]: c["status"] for c in document["checks"]}
    assert statuses == {
        "secrets": "ok",
        "debug": "ok",
        "print": "ok",
        "todo": "ok",
        "bandit": "ok",
        "dependencies": "ok",
        "safety": "skipped",
    }
    assert "PASSED" in capsys.readouterr().out


def test_json_report_has_versions_statuses_times_and_database_date(
    planted_run: tuple[int, dict[str, Any], Path, str],
) -> None:
    _code, document, _out, _stdout = planted_run
    assert document["exit_code"] == 1
    assert document["tool_versions"]["bandit"]
    assert document["tool_versions"]["python"]
    for check in document["checks"]:
        assert check["status"] in ("ok", "findings", "skipped", "incomplete", "error")
        assert check["seconds"] >= 0
    database = document["vulnerability_database"]
    assert database["date"] == NEWEST_MODIFIED
    assert database["records"] == 3
    dependencies = next(c for c in document["checks"] if c["name"] == "dependencies")
    assert dependencies["unpinned"] == ["click"]
    assert document["summary"]["by_severity"]["critical"] >= 2


def test_one_timestamp_names_all_four_reports(
    planted_run: tuple[int, dict[str, Any], Path, str],
) -> None:
    _code, _document, out, stdout = planted_run
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4
    stamp = names[0].removeprefix("SUMMARY_").removesuffix(".md")
    assert names == [
        f"SUMMARY_{stamp}.md",
        f"security_audit_{stamp}.json",
        f"security_audit_{stamp}.sarif",
        f"security_audit_{stamp}.txt",
    ]
    for name in names:
        assert f"report: {out / name}" in stdout
    summary = (out / f"SUMMARY_{stamp}.md").read_text("utf-8")
    assert "FAILED" in summary
    assert "| bandit |" in summary


def test_no_report_and_no_output_holds_a_planted_secret(
    planted: Project,
    planted_run: tuple[int, dict[str, Any], Path, str],
    tmp_path: Path,
) -> None:
    _code, _document, out, stdout = planted_run
    baseline = tmp_path / "baseline.json"
    assert (
        main(
            [
                "audit",
                str(planted.root),
                "--vuln-db",
                str(planted.vuln_db),
                "--format",
                "none",
                "--quiet",
                "--write-baseline",
                str(baseline),
            ]
        )
        == 1
    )
    texts = {p.name: p.read_text("utf-8") for p in [*out.iterdir(), baseline]}
    texts["stdout"] = stdout
    for secret in PLANTED_SECRETS:
        for name, text in texts.items():
            assert secret not in text, f"{name} leaks a planted secret"
    assert "[REDACTED]" in texts[next(n for n in texts if n.endswith(".txt"))]


def test_sarif_validates_against_the_2_1_0_schema(
    planted_run: tuple[int, dict[str, Any], Path, str],
) -> None:
    _code, _document, out, _stdout = planted_run
    log = json.loads(next(out.glob("*.sarif")).read_text("utf-8"))
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert set(runs) == {
        "bandit",
        "hardpoint-secrets",
        "hardpoint-checks",
        "hardpoint-dependencies",
    }
    for run in runs.values():
        assert "SRCROOT" in run["originalUriBaseIds"]
        for rule in run["tool"]["driver"]["rules"]:
            assert rule["properties"]["security-severity"]
            assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
        for result in run["results"]:
            for location in result.get("locations", []):
                artifact = location["physicalLocation"]["artifactLocation"]
                assert artifact["uriBaseId"] == "SRCROOT"
                assert not artifact["uri"].startswith("/")
    bandit_rules = {r["id"]: r for r in runs["bandit"]["tool"]["driver"]["rules"]}
    assert bandit_rules["B602"]["properties"]["security-severity"] == "8.0"


def test_clean_sarif_validates_too(clean: Project, tmp_path: Path) -> None:
    audit(clean, tmp_path / "reports", "--format", "sarif")
    log = json.loads(next((tmp_path / "reports").glob("*.sarif")).read_text("utf-8"))
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_baseline_turns_known_findings_from_1_to_0_and_a_new_one_back_to_1(
    planted: Project, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    code, _ = audit(planted, tmp_path / "r1", "--write-baseline", str(baseline))
    assert code == 1
    # Code added above every finding moves their lines but keeps their fingerprints.
    core = planted.root / "app" / "core.py"
    core.write_text('"""Core."""\n\n' + core.read_text("utf-8"), encoding="utf-8")
    code, document = audit(planted, tmp_path / "r2", "--baseline", str(baseline))
    assert code == 0
    assert document["findings"]
    assert not any(f["new"] for f in document["findings"])
    core.write_text(
        core.read_text("utf-8") + "\n\ndef clean_up(path):\n"
        "    return subprocess.call('rm -rf ' + path, shell=True)\n",
        encoding="utf-8",
    )
    code, document = audit(planted, tmp_path / "r3", "--baseline", str(baseline))
    assert code == 1
    new = [f for f in document["findings"] if f["new"]]
    assert [(f["rule_id"], f["path"]) for f in new] == [("B602", "app/core.py")]
    sarif = json.loads(next((tmp_path / "r3").glob("*.sarif")).read_text("utf-8"))
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    states = {r["baselineState"] for run in sarif["runs"] for r in run["results"]}
    assert states == {"new", "unchanged"}


def test_fail_on_sets_the_threshold(clean: Project, tmp_path: Path) -> None:
    (clean.root / "app" / "util.py").write_text("def f():\n    print('x')\n", "utf-8")
    assert audit(clean, tmp_path / "a")[0] == 0  # a print is low
    assert audit(clean, tmp_path / "b", "--fail-on", "low")[0] == 1
    assert audit(clean, tmp_path / "c", "--fail-on", "critical")[0] == 0


def test_inline_suppressions_silence_own_checks_and_bandit(clean: Project, tmp_path: Path) -> None:
    (clean.root / "app" / "util.py").write_text(
        "import subprocess  # nosec B404\n"
        "def f(cmd):\n"
        "    print('x')  # hardpoint: ignore[print-in-library]\n"
        "    return subprocess.call(cmd, shell=True)  # hardpoint: ignore[B602]\n"
        "DEBUG = True  # nosec\n",
        "utf-8",
    )
    code, document = audit(clean, tmp_path / "r", "--fail-on", "low")
    assert document["findings"] == []
    assert code == 0


def test_a_zipped_vuln_db_works_like_a_folder(planted: Project, tmp_path: Path) -> None:
    archive = tmp_path / "osv.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for record in sorted(planted.vuln_db.iterdir()):
            out.write(record, f"PyPI/{record.name}")
    code, document = audit(
        planted, tmp_path / "r", "--vuln-db", str(archive), "--skip", "bandit", db=False
    )
    assert code == 1
    rules = {f["rule_id"] for f in document["findings"] if f["check"] == "dependencies"}
    assert rules == {"PYSEC-2018-28", "GHSA-562c-5r94-xh97"}


def test_exit_3_without_network_or_database_unless_allowed(
    clean: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = audit(clean, tmp_path / "a", "--offline", db=False)
    assert code == 3
    dependencies = next(c for c in document["checks"] if c["name"] == "dependencies")
    assert dependencies["status"] == "incomplete"
    assert "INCOMPLETE" in capsys.readouterr().out
    code, _ = audit(clean, tmp_path / "b", "--offline", "--allow-incomplete", db=False)
    assert code == 0


def test_findings_win_over_incomplete(planted: Project, tmp_path: Path) -> None:
    assert audit(planted, tmp_path / "a", "--offline", db=False)[0] == 1


def test_safety_needs_its_key(clean: Project, tmp_path: Path) -> None:
    from hardpoint.audit import AuditOptions, run_audit

    options = AuditOptions(
        clean.root,
        output_dir=None,
        vuln_db=clean.vuln_db,
        skip=frozenset({"bandit"}),
        offline=True,
        environ={"SAFETY_API_KEY": "k"},
    )
    result = run_audit(options)
    safety = next(c for c in result.checks if c.name == "safety")
    assert safety.status == "incomplete"
    assert result.exit_code == 3


@pytest.mark.parametrize(
    "args",
    [
        ["--fail-on", "severe"],
        ["--format", "pdf"],
        ["--skip", "everything"],
        ["--timeout", "0"],
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_2(clean: Project, tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", str(clean.root), "--output-dir", str(tmp_path), *args])
    assert exit_info.value.code == 2


def test_bad_configuration_exits_2(
    clean: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_json = tmp_path / "bad-db"
    not_json.mkdir()
    (not_json / "x.json").write_text("{not json", "utf-8")
    not_osv = tmp_path / "not-osv"
    not_osv.mkdir()
    (not_osv / "x.json").write_text('{"summary": "no id"}', "utf-8")
    text_file = tmp_path / "db.txt"
    text_file.write_text("hello", "utf-8")
    bad_baseline = tmp_path / "baseline.json"
    bad_baseline.write_text("[]", "utf-8")
    cases = [
        [str(tmp_path / "missing-project")],
        [str(clean.root), "--vuln-db", str(tmp_path / "missing-db")],
        [str(clean.root), "--vuln-db", str(not_json)],
        [str(clean.root), "--vuln-db", str(not_osv)],
        [str(clean.root), "--vuln-db", str(text_file)],
        [str(clean.root), "--baseline", str(tmp_path / "missing.json")],
        [str(clean.root), "--baseline", str(bad_baseline)],
        [str(clean.root), "--requirement", str(tmp_path / "missing.txt")],
    ]
    for case in cases:
        assert main(["audit", *case, "--output-dir", str(tmp_path / "r")]) == 2, case
    assert capsys.readouterr().err.count("hardpoint audit: error:") == len(cases)
    assert not (tmp_path / "r").exists()


def test_requirement_and_lock_files_can_be_named(clean: Project, tmp_path: Path) -> None:
    lock = tmp_path / "poetry.lock"
    lock.write_text('[[package]]\nname = "requests"\nversion = "2.19.1"\n', "utf-8")
    code, document = audit(clean, tmp_path / "r", "--requirement", str(lock), "--skip", "bandit")
    assert code == 1
    [finding] = document["findings"]
    assert finding["rule_id"] == "PYSEC-2018-28"
    assert finding["line"] == 2


def test_installed_distributions_are_audited_without_files(clean: Project, tmp_path: Path) -> None:
    db = tmp_path / "installed-db"
    db.mkdir()
    record = {
        "id": "HARDPOINT-TEST-1",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "pytest"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    (db / "r.json").write_text(json.dumps(record), "utf-8")
    code, document = audit(
        clean, tmp_path / "r", "--installed", "--vuln-db", str(db), "--skip", "bandit", db=False
    )
    assert code == 1
    [finding] = document["findings"]
    assert (finding["rule_id"], finding["path"]) == ("HARDPOINT-TEST-1", "")
    log = json.loads(next((tmp_path / "r").glob("*.sarif")).read_text("utf-8"))
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_quiet_prints_only_the_verdict(
    clean: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit(clean, tmp_path / "r", "--quiet", "--format", "json")
    assert capsys.readouterr().out.strip().splitlines() == ["PASSED: nothing new at or above high"]
    assert [p.suffix for p in (tmp_path / "r").iterdir()] == [".json"]


def test_python_dash_m_and_the_console_script_run_the_audit(clean: Project, tmp_path: Path) -> None:
    common = [str(clean.root), "--vuln-db", str(clean.vuln_db), "--format", "none", "-q"]
    module = subprocess.run(
        [sys.executable, "-m", "hardpoint.audit", *common],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert module.returncode == 0, module.stderr
    script = Path(sys.executable).with_name("hardpoint")
    console = subprocess.run(
        [str(script), "audit", *common, "--skip", "bandit"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert console.returncode == 0, console.stderr
    assert console.stdout.startswith("PASSED")


def test_missing_tools_make_the_run_incomplete(clean: Project, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "for name in ('bandit', 'packaging', 'pip_audit'):\n"
        "    sys.modules[name] = None\n"
        "from hardpoint.audit._cli import main\n"
        f"sys.exit(main([{str(clean.root)!r}, '--vuln-db', {str(clean.vuln_db)!r},"
        f" '--output-dir', {str(tmp_path / 'r')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 3, done.stderr
    assert "bandit is not installed" in done.stdout
    assert "pip install 'hardpoint[audit]'" in done.stdout
    document = json.loads(next((tmp_path / "r").glob("*.json")).read_text("utf-8"))
    statuses = {c["name"]: c["status"] for c in document["checks"]}
    assert statuses["bandit"] == statuses["dependencies"] == "incomplete"
    assert statuses["secrets"] == "ok"


def test_bandit_reads_the_projects_own_configuration(planted: Project, tmp_path: Path) -> None:
    (planted.root / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B602"]\n', "utf-8")
    _code, document = audit(planted, tmp_path / "r")
    rules = {f["rule_id"] for f in document["findings"] if f["check"] == "bandit"}
    assert "B602" not in rules
    assert "B301" in rules


def test_a_single_file_can_be_audited(planted: Project, tmp_path: Path) -> None:
    target = planted.root / "app" / "core.py"
    main(
        [
            "audit",
            str(target),
            "--output-dir",
            str(tmp_path / "f"),
            "--offline",
            "--allow-incomplete",
        ]
    )
    document = json.loads(next((tmp_path / "f").glob("*.json")).read_text("utf-8"))
    assert {f["path"] for f in document["findings"]} == {"core.py"}
    log = json.loads(next((tmp_path / "f").glob("*.sarif")).read_text("utf-8"))
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    base = log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert base == target.parent.resolve().as_uri() + "/"
