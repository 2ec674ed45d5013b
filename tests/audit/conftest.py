"""Fixtures: a project with every planted issue, and its clean twin."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

_HERE: Final = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from audit._audit_plants import (
        CLEAN_CONFIG_YAML,
        CLEAN_CORE,
        CLEAN_ENV,
        CLEAN_REQUIREMENTS,
        CLEAN_SETTINGS,
        CLI,
        CONFIG_YAML,
        CORE,
        ENV,
        GITHUB_ENV,
        REQUIREMENTS,
        SETTINGS,
        Project,
        write_files,
        write_vuln_db,
    )
else:  # pytest finds it through the sys.path entry above
    from _audit_plants import (
        CLEAN_CONFIG_YAML,
        CLEAN_CORE,
        CLEAN_ENV,
        CLEAN_REQUIREMENTS,
        CLEAN_SETTINGS,
        CLI,
        CONFIG_YAML,
        CORE,
        ENV,
        GITHUB_ENV,
        REQUIREMENTS,
        SETTINGS,
        Project,
        write_files,
        write_vuln_db,
    )


@pytest.fixture(autouse=True)
def _no_safety_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's SAFETY_API_KEY must not turn the Safety check on in these tests."""
    monkeypatch.delenv("SAFETY_API_KEY", raising=False)


@pytest.fixture
def planted(tmp_path: Path) -> Project:
    """A project with every issue of the issue's "Done when" planted once."""
    root = tmp_path / "planted"
    write_files(
        root,
        {
            "app/__init__.py": "",
            "app/settings.py": SETTINGS,
            "app/core.py": CORE,
            "app/cli.py": CLI,
            "config.yaml": CONFIG_YAML,
            ".env": ENV,
            "requirements.txt": REQUIREMENTS,
            "tests/test_core.py": "def test_x():\n    assert True\n    print('debugging')\n",
            ".venv/lib/leak.py": f'TOKEN = "{GITHUB_ENV}"\n',
            "node_modules/x/config.json": f'{{"token": "{GITHUB_ENV}"}}\n',
        },
    )
    return Project(root, write_vuln_db(tmp_path / "osv"))


@pytest.fixture
def clean(tmp_path: Path) -> Project:
    """The planted project's twin with every issue fixed."""
    root = tmp_path / "clean"
    write_files(
        root,
        {
            "app/__init__.py": "",
            "app/settings.py": CLEAN_SETTINGS,
            "app/core.py": CLEAN_CORE,
            "app/cli.py": CLI,
            "config.yaml": CLEAN_CONFIG_YAML,
            ".env": CLEAN_ENV,
            "requirements.txt": CLEAN_REQUIREMENTS,
            "tests/test_core.py": "def test_x():\n    assert True\n",
        },
    )
    return Project(root, write_vuln_db(tmp_path / "osv"))
