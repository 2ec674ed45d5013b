"""Which files an audit reads: a walk that skips environments, caches and build output."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

__all__ = [
    "DEFAULT_EXCLUDED_DIRS",
    "MAX_FILE_BYTES",
    "SourceFile",
    "file_kind",
    "read_text",
    "walk",
]

DEFAULT_EXCLUDED_DIRS: Final = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        "build",
        "dist",
        "site",
        "site-packages",
        ".eggs",
        "htmlcov",
    }
)
# Files past this size are generated data, not source anyone typed a secret into.
MAX_FILE_BYTES: Final = 1_000_000

_KINDS: Final = {
    ".py": "python",
    ".pyi": "python",
    ".env": "env",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".json": "json",
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
}
# Machine-written lock files hold hashes, not secrets, and are large.
_SKIPPED_NAMES: Final = frozenset(
    {"package-lock.json", "npm-shrinkwrap.json", "composer.lock", "poetry.lock", "uv.lock"}
)


def file_kind(name: str) -> str | None:
    """Return the format of a file from its name, or None when the audit does not read it.

    ``.env``, ``.env.local``, ``prod.env`` and ``settings.env`` are all ``env``.
    """
    if name in _SKIPPED_NAMES:
        return None
    lower = name.lower()
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "env"
    return _KINDS.get(PurePosixPath(lower).suffix)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to audit.

    Attributes:
        path: Absolute path.
        rel: Repository-relative POSIX path, as reports show it.
        kind: ``python``, ``env``, ``yaml``, ``toml``, ``json`` or ``ini``.
    """

    path: Path
    rel: str
    kind: str


def _excluded(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def walk(
    root: Path, *, exclude: Iterable[str] = (), skip_dirs: Iterable[Path] = ()
) -> Iterator[SourceFile]:
    """Yield the files under *root* that the audit reads, in a stable order.

    Directories in :data:`DEFAULT_EXCLUDED_DIRS`, ``*.egg-info`` and any directory holding
    a ``pyvenv.cfg`` (a virtual environment by another name) are not entered. Files larger
    than :data:`MAX_FILE_BYTES` are skipped.

    Args:
        root: A directory, or a single file.
        exclude: Glob patterns matched against the relative path and against the name.
        skip_dirs: Absolute directories never to enter, such as the report directory.
    """
    patterns = list(exclude)
    skipped = {p.resolve() for p in skip_dirs}
    if root.is_file():
        kind = file_kind(root.name)
        if kind is not None:
            yield SourceFile(root, root.name, kind)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            full = here / name
            rel = full.relative_to(root).as_posix()
            if (
                name in DEFAULT_EXCLUDED_DIRS
                or name.endswith(".egg-info")
                or (full / "pyvenv.cfg").exists()
                or full.resolve() in skipped
                or _excluded(rel, patterns)
            ):
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            kind = file_kind(name)
            if kind is None:
                continue
            full = here / name
            rel = full.relative_to(root).as_posix()
            if _excluded(rel, patterns):
                continue
            try:
                if full.stat().st_size > MAX_FILE_BYTES:
                    continue
            except OSError:
                continue
            yield SourceFile(full, rel, kind)


def read_text(path: Path) -> str | None:
    """Return the text of *path*, or None when it cannot be read or is not text."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")
