"""Property tests for the audit's parsers: requirements, OSV ranges, suppressions, fingerprints."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardpoint.audit._baseline import read_baseline, write_baseline
from hardpoint.audit._model import Finding, fingerprint, normalise_line
from hardpoint.audit._osv import (
    affected,
    event_affects,
    load_vuln_db,
    parse_lock_file,
    parse_requirements,
)
from hardpoint.audit._suppress import is_suppressed, parse_suppression
from hardpoint.errors import ConfigurationError

# -- requirements ------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}(?:[-_.][A-Za-z0-9]{1,4}){0,2}", fullmatch=True)
versions = st.builds(
    lambda parts, pre: ".".join(map(str, parts)) + pre,
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "rc2", ".post1", ".dev3"]),
)
decorations = st.fixed_dictionaries(
    {
        "extras": st.sampled_from(["", "[async]", "[a,b]"]),
        "marker": st.sampled_from(["", ' ; python_version >= "3.8"', "; sys_platform == 'linux'"]),
        "hash": st.sampled_from(["", " --hash=sha256:" + "ab" * 32]),
        "comment": st.sampled_from(["", "  # pinned for a reason"]),
        "continued": st.booleans(),
    }
)


@given(st.lists(st.tuples(names, versions, decorations), max_size=8))
def test_pinned_requirements_round_trip(
    entries: list[tuple[str, str, dict[str, object]]],
) -> None:
    lines = ["# a requirements file", ""]
    for name, version, deco in entries:
        line = f"{name}{deco['extras']}=={version}{deco['marker']}"
        if deco["continued"] and deco["hash"]:
            line += f" \\\n    {str(deco['hash']).strip()}"
        else:
            line += str(deco["hash"])
        lines.append(line + str(deco["comment"]))
    pins = parse_requirements("\n".join(lines), source="requirements.txt")
    assert [(p.name, p.version) for p in pins] == [
        (canonicalize_name(name), version) for name, version, _ in entries
    ]
    assert all(p.source == "requirements.txt" for p in pins)


@given(st.text())
@example("-r\n")
@example("foo==1.0 \\")
@example("foo @ https://example.com/foo.whl")
def test_requirements_parser_is_total(text: str) -> None:
    for pin in parse_requirements(text, source="r.txt"):
        assert pin.name == canonicalize_name(pin.name)


def test_requirements_parser_reads_ranges_urls_and_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("Django==4.2.1\n", "utf-8")
    text = (
        "-r base.txt\n-e .\n--index-url https://example.com/simple\n"
        "click>=8\nattrs===23.1.0\nlocal @ file:///tmp/x.whl\nnumpy==1.*\n"
    )
    pins = parse_requirements(text, source="req/main.txt", base=tmp_path)
    assert [(p.name, p.version, p.source, p.line) for p in pins] == [
        ("django", "4.2.1", "req/base.txt", 1),
        ("click", None, "req/main.txt", 4),
        ("attrs", "23.1.0", "req/main.txt", 5),
        ("local", None, "req/main.txt", 6),
        ("numpy", None, "req/main.txt", 7),
    ]


def test_requirement_includes_do_not_loop(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\nfoo==1\n", "utf-8")
    (tmp_path / "b.txt").write_text("-r a.txt\nbar==2\n", "utf-8")
    pins = parse_requirements("-r a.txt\n", source="x.txt", base=tmp_path)
    assert sorted(p.name for p in pins) == ["bar", "foo"]


def test_lock_files() -> None:
    poetry = '[[package]]\nname = "Requests"\nversion = "2.19.0"\n'
    assert [
        (p.name, p.version, p.line) for p in parse_lock_file("poetry.lock", poetry, source="p")
    ] == [("requests", "2.19.0", 2)]
    pylock = '[[packages]]\nname = "flask"\nversion = "0.12"\n'
    assert [p.version for p in parse_lock_file("pylock.toml", pylock, source="p")] == ["0.12"]
    pipfile = json.dumps({"default": {"flask": {"version": "==0.12"}}, "develop": {"x": {}}})
    pins = parse_lock_file("Pipfile.lock", pipfile, source="p")
    assert [(p.name, p.version) for p in pins] == [("flask", "0.12"), ("x", None)]
    with pytest.raises(ConfigurationError, match="not a valid lock file"):
        parse_lock_file("uv.lock", "not = [toml", source="p")


# -- OSV ranges --------------------------------------------------------------------------

pool = st.builds(lambda a, b: Version(f"{a}.{b}"), st.integers(0, 6), st.integers(0, 6))


Interval = tuple[Version, Version | None, str]


@st.composite
def ranges(draw: st.DrawFn) -> tuple[list[dict[str, str]], list[Interval]]:
    """Events of one ECOSYSTEM range (shuffled) and the intervals they stand for."""
    bounds: list[Version | None] = list(sorted(draw(st.sets(pool, max_size=6))))
    if draw(st.booleans()):
        bounds.insert(0, None)  # introduced: "0"
    intervals: list[Interval] = []
    events: list[dict[str, str]] = []
    index = 0
    while index < len(bounds):
        low = bounds[index]
        index += 1
        events.append({"introduced": "0" if low is None else str(low)})
        start = Version("0") if low is None else low
        high = bounds[index] if index < len(bounds) else None
        if high is not None and draw(st.booleans()):
            kind = draw(st.sampled_from(["fixed", "last_affected"]))
            events.append({kind: str(high)})
            intervals.append((start, high, kind))
            index += 1
        else:
            intervals.append((start, None, "open"))
            break
    return draw(st.permutations(events)), intervals


def reference_affected(
    version: Version, intervals: list[tuple[Version, Version | None, str]]
) -> bool:
    for low, high, kind in intervals:
        if version < low:
            continue
        if (
            high is None
            or (kind == "fixed" and version < high)
            or (kind == "last_affected" and version <= high)
        ):
            return True
    return False


@given(ranges(), pool)
def test_range_matching_agrees_with_the_interval_reference(
    drawn: tuple[list[dict[str, str]], list[Interval]],
    version: Version,
) -> None:
    events, intervals = drawn
    assert event_affects(version, events) == reference_affected(version, intervals)
    entry = {"ranges": [{"type": "ECOSYSTEM", "events": events}]}
    assert affected(str(version), entry) == reference_affected(version, intervals)


@given(st.lists(pool, max_size=5), pool)
def test_versions_lists_match_by_pep_440_equality(listed: list[Version], version: Version) -> None:
    entry = {"versions": [str(v) for v in listed]}
    assert affected(str(version), entry) == (version in listed)


def test_ranges_compare_pep_440_not_text() -> None:
    entry = {
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.9"}, {"fixed": "1.10"}]}]
    }
    assert affected("1.9.5", entry)
    assert not affected("1.10.0", entry)
    assert affected("1.10rc1", entry)  # a pre-release of the fix is still affected
    assert not affected("1.10", {"ranges": [{"type": "GIT", "events": [{"introduced": "0"}]}]})
    assert not affected("not a version", entry)


def test_vuln_db_ignores_other_ecosystems_and_dates_itself(tmp_path: Path) -> None:
    records = [
        {
            "id": "A",
            "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "x"}}],
        },
        {
            "id": "B",
            "modified": "2025-06-01T00:00:00.123456Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "X_Y"}, "versions": ["1"]}],
        },
    ]
    (tmp_path / "all.json").write_text(json.dumps(records), "utf-8")
    database = load_vuln_db(tmp_path)
    assert database.records == 2
    assert database.newest is not None
    assert database.newest.year == 2025
    assert list(database.by_name) == ["x-y"]


# -- suppression comments ----------------------------------------------------------------

rule_ids = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True)


@given(st.lists(rule_ids, min_size=1, max_size=4), st.text(alphabet="abc =()'\"", max_size=20))
def test_named_suppressions_cover_exactly_their_rules(rules: list[str], code: str) -> None:
    line = f"{code}  # hardpoint: ignore[{', '.join(rules)}]"
    parsed = parse_suppression(line)
    assert not parsed.all_rules
    assert parsed.rules == {r.lower() for r in rules}
    assert all(is_suppressed(line, rule) for rule in rules)
    assert not is_suppressed(line, "some-other-rule-" + "x" * 30)


@given(st.text())
@example("# nosec")
@example("#hardpoint:ignore[]")
def test_suppression_parser_is_total(line: str) -> None:
    parsed = parse_suppression(line)
    if "nosec" not in line.lower() and "hardpoint" not in line.lower():
        assert not parsed.all_rules
        assert not parsed.rules


def test_suppression_forms() -> None:
    assert parse_suppression("x = 1  # nosec").all_rules
    assert parse_suppression("x  # hardpoint: ignore").all_rules
    assert parse_suppression("x  # nosec B602, B603").rules == {"b602", "b603"}
    assert is_suppressed("call()  # NOSEC: B602", "B602")
    assert not is_suppressed("call()  # nosec B602", "B603")
    assert not is_suppressed("call()  # nothing here", "B602")


# -- fingerprints and baselines ----------------------------------------------------------


@given(st.text(max_size=60), st.text(alphabet=" \t", max_size=5), st.integers(0, 1000))
def test_fingerprints_ignore_indentation_and_line_numbers(
    line: str, padding: str, line_no: int
) -> None:
    first = fingerprint("B602", "app/core.py", line)
    assert fingerprint("B602", "app/core.py", padding + line + padding) == first
    assert normalise_line(padding + line) == normalise_line(line)
    assert fingerprint("B603", "app/core.py", line) != first
    assert fingerprint("B602", "app/other.py", line) != first
    del line_no  # the line number is no input: moving a finding keeps its fingerprint


@given(st.lists(st.tuples(rule_ids, st.text(max_size=30)), max_size=6))
def test_baselines_round_trip(entries: list[tuple[str, str]]) -> None:
    findings = [
        Finding("x", rule, "low", "low", "a.py", 1, "m", fingerprint(rule, "a.py", text))
        for rule, text in entries
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.json"
        write_baseline(path, findings)
        assert read_baseline(path) == {f.fingerprint for f in findings}
