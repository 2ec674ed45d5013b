"""docs/alerts.yml: promtool's own unit tests, and names that match the exported metrics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hardpoint.metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "alerts.yml"
RULE_TESTS = Path(__file__).with_name("alerts_test.yml")
DOCS = ROOT / "docs" / "metrics.md"


def promtool() -> str:
    """promtool from PATH; else skip, or fail under CI, which installs it (.ci/run)."""
    found = shutil.which("promtool")
    if found:
        return found
    ci_installs_it = "promtool" in (ROOT / ".ci" / "run").read_text()
    reason = "promtool not found on PATH; install it (apt-get install prometheus)"
    if os.environ.get("CI") and ci_installs_it:
        pytest.fail(f"{reason}: .ci/run should have installed it")
    pytest.skip(reason)


def test_alert_rules_are_valid() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 rules found" in result.stdout


def test_alert_rules_pass_their_unit_tests() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def exposed_names() -> set[str]:
    names = set()
    for spec in METRICS:
        names.add(spec.exposed_name)
        if spec.kind == "histogram":
            names |= {spec.name + suffix for suffix in ("_bucket", "_count", "_sum")}
    return names


def test_the_alerts_use_only_exported_metrics() -> None:
    used = set(re.findall(r"\bhardpoint_[a-z_]+", RULES.read_text()))
    assert used, "no metric found in the rules"
    assert used <= exposed_names()


def test_the_docs_table_lists_every_metric_with_its_labels() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in DOCS.read_text().splitlines()
        if line.startswith("| `hardpoint_")
    }
    assert set(rows) == {spec.exposed_name for spec in METRICS}
    for spec in METRICS:
        row = rows[spec.exposed_name]
        assert spec.kind in row
        assert f"`{spec.otel_name}`" in row
        for label in spec.labels:
            assert f"`{label}`" in row, (spec.name, label)
