"""The planted project and its clean twin that the audit tests build in tmp_path.

Every fake secret is glued together from pieces at run time, so no line of this file holds
a token-shaped string and hardpoint's audit of its own repository stays honest.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Fake, shape-valid values; none of them was ever a real credential.
AWS_KEY_ID = "AK" + "IA" + "Z7Q2L4N8R3T6V9XW"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq8Hd3Kp2M"
STRIPE_SETTINGS = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_ENV = "sk_" + "live_" + "9xY8wV7uT6sR5qP4oN3mL2kJ"
GITHUB_SETTINGS = "gh" + "p_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
GITHUB_ENV = "gh" + "p_" + "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8"
DB_PASSWORD = "pR7#kQ2!xZ9" + "@mV4$wL8"
PLANTED_SECRETS = (
    AWS_KEY_ID,
    AWS_SECRET,
    STRIPE_SETTINGS,
    STRIPE_ENV,
    GITHUB_SETTINGS,
    GITHUB_ENV,
    DB_PASSWORD,
)

SETTINGS = f"""\
import os

DEBUG = True
AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"
AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"
STRIPE_API_KEY = "{STRIPE_SETTINGS}"
GITHUB_TOKEN = "{GITHUB_SETTINGS}"
DATABASE_PASSWORD = "{DB_PASSWORD}"
SECRET_KEY = os.environ["SECRET_KEY"]
ALLOWED_HOSTS = ["example.com"]
"""
CLEAN_SETTINGS = """\
import os

DEBUG = os.environ.get("DEBUG") == "1"
AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
AWS_SECRET_ACCESS_KEY = os.environ["AWS_SECRET_ACCESS_KEY"]
STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "")
GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN", "")
DATABASE_PASSWORD = os.environ["DATABASE_PASSWORD"]
SECRET_KEY = os.environ["SECRET_KEY"]
ALLOWED_HOSTS = ["example.com"]
"""
ENV = f"""\
STRIPE_SECRET_KEY={STRIPE_ENV}
GITHUB_TOKEN={GITHUB_ENV}
DEBUG=true
SESSION_SECRET=changeme
API_KEY=${{API_KEY}}
"""
CLEAN_ENV = """\
STRIPE_SECRET_KEY=changeme
GITHUB_TOKEN=<your-token>
DEBUG=false
SESSION_SECRET=${SESSION_SECRET}
"""
CORE = """\
import hashlib
import pickle
import subprocess

import yaml


def run(command):
    # TODO: sanitise the command before it reaches the shell (injection)
    return subprocess.call(command, shell=True)


def load(document, blob):
    print("loading", len(blob))
    return yaml.load(document), pickle.loads(blob)


def hash_password(password):
    return hashlib.md5(password.encode()).hexdigest()
"""
CLEAN_CORE = """\
import hashlib
import json
import logging

import yaml

logger = logging.getLogger(__name__)


def load(document, blob):
    logger.info("loading %d bytes", len(blob))
    return yaml.safe_load(document), json.loads(blob)


def hash_password(password, salt):
    # TODO: add a progress bar to the import
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()


if __name__ == "__main__":
    print(load("a: 1", b"{}"))
"""
CONFIG_YAML = """\
server:
  debug: true
  port: 8080
"""
CLEAN_CONFIG_YAML = """\
server:
  debug: false
  port: 8080
  token_url: https://auth.example.com/token
"""
CLI = """\
def main():
    print("usage: app [options]")
"""
REQUIREMENTS = """\
# pinned on purpose: both have known advisories in the test database
requests==2.19.0 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
flask[async]==0.12.2 ; python_version >= "3"
click>=8.0
"""
CLEAN_REQUIREMENTS = """\
requests==2.32.3
flask==3.0.3
"""

ADVISORIES: list[dict[str, Any]] = [
    {
        "id": "PYSEC-2018-28",
        "modified": "2024-03-01T08:00:00Z",
        "aliases": ["CVE-2018-18074"],
        "summary": "requests sends Authorization headers on redirects to another host",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}
                ],
            }
        ],
        "database_specific": {"severity": "HIGH"},
    },
    {
        "id": "GHSA-562c-5r94-xh97",
        "modified": "2025-01-15T12:30:00Z",
        "summary": "Flask session cookie disclosure",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Flask"},
                "versions": ["0.12", "0.12.1", "0.12.2", "0.12.3"],
            }
        ],
        "database_specific": {"severity": "CRITICAL"},
    },
    {
        "id": "RUSTSEC-2099-0001",
        "modified": "2023-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "crates.io", "name": "requests"}}],
    },
]
NEWEST_MODIFIED = "2025-01-15T12:30:00+00:00"


@dataclass(frozen=True)
class Project:
    root: Path
    vuln_db: Path


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def write_vuln_db(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for record in ADVISORIES:
        (folder / f"{record['id']}.json").write_text(json.dumps(record), encoding="utf-8")
    return folder
