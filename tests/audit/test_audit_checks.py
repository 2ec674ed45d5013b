"""The own checks one by one: secret shapes and placeholders, debug, print, security TODOs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardpoint.audit._checks import (
    is_library_module,
    scan_debug,
    scan_print,
    scan_todo,
    security_todo,
)
from hardpoint.audit._files import SourceFile, file_kind, walk
from hardpoint.audit._model import Finding
from hardpoint.audit._secrets import (
    REDACTED,
    is_placeholder,
    looks_random,
    redact,
    scan_secrets,
    shannon_entropy,
)


def source(rel: str) -> SourceFile:
    kind = file_kind(rel.rsplit("/", 1)[-1])
    assert kind is not None
    return SourceFile(Path("/nowhere") / rel, rel, kind)


def rules(found: list[Finding]) -> list[str]:
    return [f.rule_id for f in found]


# Shape-valid fakes, glued at run time (see conftest.py).
SLACK = "xo" + "xb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv"
OPENAI = "s" + "k-proj-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWx"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----"
GITHUB_PAT = "github" + "_pat_" + "11ABCDEFG0" + "a1B2c3D4e5" * 6
ASIA = "AS" + "IA" + "QWERTYUIOPASDFGH"


@pytest.mark.parametrize(
    ("rel", "line", "rule"),
    [
        ("conf.yaml", f"slack_token: {SLACK}", "secret-slack-token"),
        ("app/ai.py", f'client = OpenAI(api_key="{OPENAI}")', "secret-openai-key"),
        ("key.py", f'KEY = """{PEM}', "secret-private-key"),
        ("settings.toml", f'github = "{GITHUB_PAT}"', "secret-github-token"),
        ("aws.ini", f"aws_access_key_id = {ASIA}", "secret-aws-access-key-id"),
        ("data.json", f'{{"slack": "{SLACK}"}}', "secret-slack-token"),
        ("setup.cfg", "password = Zq8!rT5#pL2@wX9k", "secret-generic"),
        (".env.production", "API_TOKEN=Zq8rT5pL2wX9kMv3Hn7", "secret-generic"),
    ],
)
def test_secret_shapes_in_every_format(rel: str, line: str, rule: str) -> None:
    found = scan_secrets(source(rel), line + "\n")
    assert rules(found) == [rule]
    assert found[0].secret is not None
    assert found[0].secret not in found[0].message


@pytest.mark.parametrize(
    "line",
    [
        'password = "changeme"',
        'API_KEY = "<your-api-key>"',
        "SECRET_KEY=${SECRET_KEY}",
        'token = os.environ["TOKEN"]',
        'password = os.getenv("DB_PASSWORD", "")',
        'db_password: "{{ vault_db_password }}"',
        'aws_secret_access_key = "AKIAIOSFODNN7EXAMPLE"',
        'token_url = "https://auth.example.com/oauth2/token"',
        'password_field = "password"',
        'secret_name = "prod/db/Password1"',
        'token = "not a secret at all"',
        'PASSWORD = "*************"',
        "if password == 'Zq8!rT5#pL2@wX9k':",
        'token = "Zq8!rT5#pL2@wX9k"  # hardpoint: ignore[secret-generic]',
    ],
)
def test_placeholders_lookups_and_suppressed_lines_are_no_secrets(line: str) -> None:
    assert scan_secrets(source("app/settings.py"), line + "\n") == []


def test_aws_secret_needs_an_aws_name_nearby() -> None:
    value = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq8Hd3Kp2M"
    assert rules(scan_secrets(source("a.py"), f'AWS_SECRET_ACCESS_KEY = "{value}"\n')) == [
        "secret-aws-secret-access-key"
    ]
    assert scan_secrets(source("a.py"), f'checksum = "{value}"\n') == []


def test_redact_removes_known_values_and_token_shapes() -> None:
    text = f"found {SLACK} and hunter2-secret-value in {OPENAI}"
    cleaned = redact(text, ["hunter2-secret-value"])
    assert SLACK not in cleaned
    assert OPENAI not in cleaned
    assert "hunter2-secret-value" not in cleaned
    assert cleaned.count(REDACTED) == 3


@given(st.text(max_size=40))
def test_entropy_and_randomness_are_total(value: str) -> None:
    assert shannon_entropy(value) >= 0
    looks_random(value)
    is_placeholder(value)


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("settings.py", "DEBUG = True\n"),
        ("settings.py", "TEMPLATE_DEBUG: bool = True\n"),
        ("app.py", "app.run(host='0.0.0.0', debug=True)\n"),
        ("app.py", "app.debug = True\n"),
        ("app.py", "app.config['DEBUG'] = True\n"),
        (".env", "export FLASK_DEBUG=1\n"),
        ("config.yml", "app:\n  debug: yes\n"),
        ("pyproject.toml", "[tool.app]\ndebug = true\n"),
        ("config.json", '{\n  "debug": true,\n  "port": 1\n}\n'),
        ("app.ini", "[app]\nDEBUG = on\n"),
    ],
)
def test_debug_switched_on(rel: str, text: str) -> None:
    assert rules(scan_debug(source(rel), text)) == ["debug-enabled"]


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("settings.py", "DEBUG = False\nDEBUG = env.bool('DEBUG')\n"),
        ("app.py", "app.run(debug=False)\nlog_debug = True\n"),
        (".env", "DEBUG=false\nLOG_LEVEL=debug\n"),
        ("config.yml", "debug: false\nlog_debug: true\n"),
        ("broken.py", "def (:\n"),
    ],
)
def test_debug_switched_off_or_unrelated(rel: str, text: str) -> None:
    assert scan_debug(source(rel), text) == []


@pytest.mark.parametrize(
    ("rel", "library"),
    [
        ("src/pkg/core.py", True),
        ("pkg/_demo.py", True),
        ("tests/test_core.py", False),
        ("src/pkg/tests/helpers.py", False),
        ("scripts/release.py", False),
        ("examples/quickstart.py", False),
        ("benchmarks/bench.py", False),
        ("pkg/__main__.py", False),
        ("pkg/cli.py", False),
        ("pkg/_cli.py", False),
        ("pkg/cli/commands.py", False),
        ("conftest.py", False),
        ("pkg/core_test.py", False),
    ],
)
def test_print_rule_knows_library_code(rel: str, library: bool) -> None:
    assert is_library_module(rel) is library


def test_print_outside_main_guard_only() -> None:
    text = (
        "def f():\n    print('x')\n\n"
        "if __name__ == '__main__':\n    print('script')\n"
        "def g(p=print):\n    p('aliased calls are not seen')\n"
    )
    found = scan_print(source("pkg/core.py"), text)
    assert [(f.rule_id, f.line) for f in found] == [("print-in-library", 2)]
    assert scan_print(source("pkg/core.py"), "def (:\n") == []


@pytest.mark.parametrize(
    ("comment", "hit"),
    [
        ("# TODO: check the password length", True),
        ("# FIXME(auth): tokens never expire", True),
        ("# XXX sanitize before building the SQL", True),
        ("# HACK: disable TLS verify for the demo", True),
        ("# TODO: add a progress bar", False),
        ("# the security of todo lists", False),
        ("# todo: password (lower-case tags are prose)", False),
    ],
)
def test_security_todo(comment: str, hit: bool) -> None:
    assert security_todo(comment) is hit


def test_todo_in_strings_is_no_comment() -> None:
    text = 'MESSAGE = "# TODO: fix the password check"\n# TODO: rotate the token\n'
    found = scan_todo(source("a.py"), text)
    assert [f.line for f in found] == [2]
    assert [f.line for f in scan_todo(source("a.yaml"), "x: 1  # FIXME weak crypto\n")] == [1]
    assert scan_todo(source("a.json"), '{"a": "# TODO: password"}') == []


def test_walk_skips_environments_caches_and_big_files(tmp_path: Path) -> None:
    for rel in [
        "app/a.py",
        "app/b.txt",
        ".git/config.py",
        "env/pyvenv.cfg",
        "env/lib/x.py",
        "pkg.egg-info/x.json",
        "reports/r.json",
        "migrations/0001.py",
        "package-lock.json",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n", "utf-8")
    (tmp_path / "app" / "big.json").write_text("0" * 1_000_001, "utf-8")
    rels = [
        f.rel for f in walk(tmp_path, exclude=["migrations/*"], skip_dirs=[tmp_path / "reports"])
    ]
    assert rels == ["app/a.py"]
    assert [f.rel for f in walk(tmp_path / "app" / "a.py")] == ["a.py"]


@given(st.text(max_size=300), st.sampled_from(["a.py", ".env", "c.yaml", "d.toml", "e.json"]))
def test_scanners_are_total(text: str, rel: str) -> None:
    for scan in (scan_secrets, scan_debug, scan_print, scan_todo):
        for finding in scan(source(rel), text):
            assert 1 <= finding.line <= max(1, len(text.splitlines()))
            if finding.secret:
                assert finding.secret not in finding.message


def test_long_lines_stay_fast() -> None:
    text = ("a=b" * 1300 + "\n") * 50 + ("x" * 3999 + "\n") * 50
    began = time.monotonic()
    for scan in (scan_secrets, scan_debug, scan_print, scan_todo):
        scan(source("a.py"), text)
    assert time.monotonic() - began < 5
