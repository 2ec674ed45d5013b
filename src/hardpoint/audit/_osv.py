"""Pinned requirements and OSV advisories, matched with PEP 440 versions. No I/O but reads.

Requirements come from ``requirements*.txt`` files, ``poetry.lock``, ``uv.lock``,
``pylock.toml``, ``Pipfile.lock`` or the installed distributions. Advisories come from a
folder or zip of OSV JSON records (https://ossf.github.io/osv-schema/), such as an export of
the PyPI advisory database.
"""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from hardpoint._optional import requires_extra
from hardpoint.audit._model import Severity
from hardpoint.errors import ConfigurationError

with requires_extra("audit", feature="hardpoint audit's dependency check"):
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

__all__ = [
    "LOCK_FILE_NAMES",
    "Advisory",
    "Pin",
    "VulnDatabase",
    "affected",
    "canonicalize_name",
    "event_affects",
    "load_vuln_db",
    "parse_lock_file",
    "parse_requirements",
]

LOCK_FILE_NAMES: Final = ("poetry.lock", "uv.lock", "pylock.toml", "Pipfile.lock")
_OPTION_WITH_FILE: Final = re.compile(
    r"^(?:-r|--requirement|-c|--constraint)(?:\s+|=)(?P<file>\S+)"
)
_SEVERITY_WORDS: Final[dict[str, Severity]] = {
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "high": "high",
    "important": "high",
    "critical": "critical",
}


@dataclass(frozen=True, slots=True)
class Pin:
    """One requirement.

    Attributes:
        name: The canonical (PEP 503) project name.
        version: The exact pinned version, or None when the requirement is not pinned with
            ``==``/``===`` (then it cannot be matched against advisories).
        source: Where it came from: a relative file path, or ``""`` for the environment.
        line: Its line in *source*; 0 when unknown.
    """

    name: str
    version: str | None
    source: str
    line: int = 0


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join backslash continuations and drop comments; yield (first line number, text)."""
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if not buffer:
            start = number
        # pip: a comment starts at "#" at the line start or after whitespace.
        line = re.sub(r"(^|\s)#.*$", "", line)
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer = ""
    if buffer.strip():
        yield start, buffer.strip()


def _pinned_version(requirement: Requirement) -> str | None:
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    return specs[0].version


def parse_requirements(
    text: str,
    *,
    source: str,
    base: Path | None = None,
    _seen: frozenset[Path] = frozenset(),
) -> list[Pin]:
    """Parse a pip requirements file.

    Lines may carry extras, environment markers, ``--hash`` options and backslash
    continuations. ``-r``/``-c`` includes are followed when *base* (the directory of the
    file) is given. Editable, URL and option-only lines are ignored; anything else that
    does not parse as a requirement is ignored as well.

    Args:
        text: The file's content.
        source: The path to report for pins read from it.
        base: The file's directory, to follow includes; None to ignore them.

    Returns:
        The requirements, pinned or not, in file order.
    """
    pins: list[Pin] = []
    for number, line in _logical_lines(text):
        include = _OPTION_WITH_FILE.match(line)
        if include:
            if base is not None:
                target = (base / include.group("file")).resolve()
                if target not in _seen and target.is_file():
                    rel = Path(source).parent / include.group("file")
                    pins.extend(
                        parse_requirements(
                            target.read_text(encoding="utf-8", errors="replace"),
                            source=rel.as_posix(),
                            base=target.parent,
                            _seen=_seen | {target},
                        )
                    )
            continue
        if line.startswith("-"):
            continue  # -e, --index-url, --hash-only lines and the like
        requirement_text = re.split(r"\s+--?[a-z]", line, maxsplit=1)[0]  # drop --hash=...
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            continue
        version = None if requirement.url else _pinned_version(requirement)
        pins.append(Pin(canonicalize_name(requirement.name), version, source, number))
    return pins


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 0


def parse_lock_file(name: str, text: str, *, source: str) -> list[Pin]:
    """Parse ``poetry.lock``, ``uv.lock``, ``pylock.toml`` or ``Pipfile.lock``.

    Raises:
        ConfigurationError: The file is not valid TOML or JSON.
    """
    pins: list[Pin] = []
    try:
        if name == "Pipfile.lock":
            data = json.loads(text)
            for section in ("default", "develop"):
                entries = data.get(section, {}) if isinstance(data, dict) else {}
                for project, entry in entries.items():
                    version = entry.get("version", "") if isinstance(entry, dict) else ""
                    pinned = version[2:] if version.startswith("==") else None
                    pins.append(
                        Pin(
                            canonicalize_name(project),
                            pinned,
                            source,
                            _line_of(text, f'"{project}"'),
                        )
                    )
            return pins
        data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{source} is not a valid lock file: {exc}") from exc
    for entry in data.get("packages" if name == "pylock.toml" else "package", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            version = entry.get("version")
            pins.append(
                Pin(
                    canonicalize_name(entry["name"]),
                    version if isinstance(version, str) else None,
                    source,
                    _line_of(text, f'name = "{entry["name"]}"'),
                )
            )
    return pins


@dataclass(frozen=True, slots=True)
class Advisory:
    """One OSV record, reduced to what the audit reports.

    Attributes:
        id: The OSV id (``PYSEC-...``, ``GHSA-...``).
        aliases: Other ids (CVE numbers).
        summary: One line, or the start of the details.
        severity: From ``database_specific.severity``; ``high`` when the record gives none.
        modified: The record's ``modified`` time.
        affected: The ``affected`` entries for PyPI packages.
    """

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: Severity
    modified: datetime | None
    affected: tuple[Mapping[str, Any], ...] = field(repr=False)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _severity(record: Mapping[str, Any]) -> Severity:
    candidates: list[object] = [(record.get("database_specific") or {}).get("severity")]
    for entry in record.get("affected") or []:
        if isinstance(entry, dict):
            for key in ("database_specific", "ecosystem_specific"):
                extra = entry.get(key)
                if isinstance(extra, dict):
                    candidates.append(extra.get("severity"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.lower() in _SEVERITY_WORDS:
            return _SEVERITY_WORDS[candidate.lower()]
    return "high"


def _advisory(record: object, origin: str) -> Advisory | None:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise ConfigurationError(f"{origin}: not an OSV record (no 'id')", field="vuln_db")
    entries = tuple(
        entry
        for entry in record.get("affected") or []
        if isinstance(entry, dict)
        and str((entry.get("package") or {}).get("ecosystem", "")).lower() == "pypi"
    )
    if not entries:
        return None
    summary = str(record.get("summary") or record.get("details") or "").strip()
    return Advisory(
        id=record["id"],
        aliases=tuple(str(a) for a in record.get("aliases") or []),
        summary=summary.splitlines()[0][:200] if summary else "",
        severity=_severity(record),
        modified=_parse_time(record.get("modified")),
        affected=entries,
    )


@dataclass(slots=True)
class VulnDatabase:
    """Advisories indexed by canonical project name.

    Attributes:
        by_name: Canonical project name -> advisories naming it.
        records: How many OSV records were read (any ecosystem).
        newest: The newest ``modified`` time of any record: the database's date.
    """

    by_name: dict[str, list[Advisory]] = field(default_factory=dict)
    records: int = 0
    newest: datetime | None = None

    def add(self, advisory: Advisory) -> None:
        """Index *advisory* under each PyPI project it names."""
        names = {
            canonicalize_name(str((entry.get("package") or {}).get("name", "")))
            for entry in advisory.affected
        }
        for name in names:
            self.by_name.setdefault(name, []).append(advisory)

    def match(self, pin: Pin) -> list[Advisory]:
        """Return the advisories that affect *pin* (none when it is not pinned)."""
        if pin.version is None:
            return []
        return [
            advisory
            for advisory in self.by_name.get(pin.name, [])
            if any(
                canonicalize_name(str((entry.get("package") or {}).get("name", ""))) == pin.name
                and affected(pin.version, entry)
                for entry in advisory.affected
            )
        ]


def _records(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield file.as_posix(), file.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if info.filename.endswith(".json") and not info.is_dir():
                    yield f"{path.name}:{info.filename}", archive.read(info)
    else:
        msg = f"--vuln-db {path}: not a folder or a zip of OSV JSON records"
        raise ConfigurationError(msg, field="vuln_db")


def load_vuln_db(path: Path) -> VulnDatabase:
    """Read a folder (searched recursively) or zip of OSV JSON records.

    Each ``.json`` file holds one record or a list of records. Records for other
    ecosystems are counted and ignored.

    Raises:
        ConfigurationError: *path* is missing, not a folder or zip, or holds a file that
            is not an OSV record.
    """
    if not path.exists():
        raise ConfigurationError(f"--vuln-db {path}: no such file or folder", field="vuln_db")
    database = VulnDatabase()
    for origin, data in _records(path):
        try:
            loaded = json.loads(data)
        except ValueError as exc:
            raise ConfigurationError(f"{origin}: not JSON ({exc})", field="vuln_db") from exc
        for record in loaded if isinstance(loaded, list) else [loaded]:
            advisory = _advisory(record, origin)
            database.records += 1
            modified = _parse_time(record.get("modified"))
            if modified and (database.newest is None or modified > database.newest):
                database.newest = modified
            if advisory is not None:
                database.add(advisory)
    return database


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def event_affects(version: Version, events: Sequence[Mapping[str, str]]) -> bool:
    """Apply the OSV ``ECOSYSTEM`` range algorithm to one range's events.

    Events are sorted by version (``introduced: "0"`` first); walking them in order,
    ``introduced <= v`` turns "affected" on, ``fixed <= v`` and ``last_affected < v`` turn
    it off. Events whose version does not parse are skipped.
    """
    ordered: list[tuple[Version | None, int, str]] = []
    kinds = {"introduced": 0, "fixed": 1, "last_affected": 2}
    for event in events:
        for kind, order in kinds.items():
            if kind in event:
                raw = str(event[kind])
                if kind == "introduced" and raw == "0":
                    ordered.append((None, order, kind))
                else:
                    parsed = _version(raw)
                    if parsed is not None:
                        ordered.append((parsed, order, kind))
    ordered.sort(key=lambda item: (item[0] is not None, item[0] or Version("0"), item[1]))
    hit = False
    for bound, _order, kind in ordered:
        if kind == "introduced":
            if bound is None or version >= bound:
                hit = True
        elif kind == "fixed":
            if bound is not None and version >= bound:
                hit = False
        elif bound is not None and version > bound:
            hit = False
    return hit


def affected(version: str, entry: Mapping[str, Any]) -> bool:
    """Tell whether *version* falls in one OSV ``affected`` entry.

    The entry's explicit ``versions`` list is compared as PEP 440 versions (and as text);
    its ``ECOSYSTEM`` and ``SEMVER`` ranges go through :func:`event_affects`. ``GIT`` ranges
    name commits, not releases, and are ignored.
    """
    listed: Iterable[object] = entry.get("versions") or []
    parsed = _version(version)
    for item in listed:
        if str(item) == version or (parsed is not None and _version(str(item)) == parsed):
            return True
    if parsed is None:
        return False
    for version_range in entry.get("ranges") or []:
        if not isinstance(version_range, dict):
            continue
        if str(version_range.get("type", "")).upper() not in ("ECOSYSTEM", "SEMVER"):
            continue
        events = [e for e in version_range.get("events") or [] if isinstance(e, dict)]
        if event_affects(parsed, events):
            return True
    return False
