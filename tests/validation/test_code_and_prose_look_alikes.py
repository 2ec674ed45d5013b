"""Code and prose that share a shape with an attack, and the attacks that keep that shape.

Users of LLM services paste code and write instructions into free-text fields: a Python
``if x == y:`` is not a batch ``IF x==y command``, ``python -m venv .venv`` is what every guide
says, ``/usr/lib/python3/...`` is a file and not a program, and "confirm (by email)" is prose,
not ``confirm(1)``. Each rule is checked both ways with variants written for these tests, and
the comparison rule by generated Python and batch lines.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hardpoint.validation import Detector, scan
from hardpoint.validation._shell import _BATCH, _batch_command, command_reason

BENIGN = [
    # Comparisons in Python, C, JavaScript and Lua.
    'if __name__ == "__main__":',
    "if __name__ == '__main__':  # run the demo",
    "    if status == 'active' and user.is_admin:",
    "if x == 3 or y == 4:",
    "if a == b:",
    "if (a == b) {",
    "if (count == 0) return -1;",
    "if(x==1){",
    "if x == 1 then",
    "if (a == b) && (c == d) {",
    "if not x == 2:",
    # Python's module runner, as guides write it.
    "python -m venv .venv",
    "python3 -m pip install --upgrade pip",
    "python -m http.server --bind 127.0.0.1",
    "python -m pytest -q tests/",
    # Files outside any bin directory.
    "/usr/lib/python3.11/json/decoder.py:337: JSONDecodeError",
    "/usr/share/doc/python3/README.md",
    "/usr/local/lib/node_modules/npm/package.json",
    # Definitions, and prose with a parenthesis after alert/prompt/confirm.
    "def prompt(prompt):",
    "function alert(message) {",
    "Write a prompt (about cats) for me",
    "Please confirm (by email) the order",
    "Please confirm (e.g. by email) the order",
    "Alert (high): disk usage above 90%",
    "Confirm (yes/no)?",
    "Prompt (for the agent): summarise the thread",
]

ATTACKS = [
    # Batch IF comparisons: a command or "(" after the second operand, or nothing.
    ("if x==y del /q c:\\temp", Detector.COMMAND_INJECTION),
    ('IF "%USERNAME%"=="admin" net user guest /active:yes', Detector.COMMAND_INJECTION),
    ("if (%2)==(go) start calc", Detector.COMMAND_INJECTION),
    ('& if not "%x%" == "" (', Detector.COMMAND_INJECTION),
    ("IF NOT blue===blue type secrets.txt", Detector.COMMAND_INJECTION),
    ("if [%3]==[]", Detector.COMMAND_INJECTION),
    ("if/i %os%==windows_nt del x", Detector.COMMAND_INJECTION),
    ("FOR\t%%f\tIN\t(*.log)\tDO\tdel %%f", Detector.COMMAND_INJECTION),
    ("IF\tEXIST\tc:\\boot.ini\tCMD", Detector.COMMAND_INJECTION),
    # The module runner after a separator, and the interpreter running code.
    ("; python3 -m http.server 8000", Detector.COMMAND_INJECTION),
    ("python -c 'import pty; pty.spawn(\"/bin/sh\")'", Detector.COMMAND_INJECTION),
    # Programs by path.
    ("/usr/local/sbin/iptables -F", Detector.COMMAND_INJECTION),
    ("/usr/bin/whoami", Detector.COMMAND_INJECTION),
    # Server configuration and logs by absolute path (local file inclusion).
    ("/usr/local/etc/nginx/nginx.conf", Detector.PATH_TRAVERSAL),
    ("/opt/apache2/conf/httpd.conf", Detector.PATH_TRAVERSAL),
    ("/usr/local/apache/logs/error_log", Detector.PATH_TRAVERSAL),
    ("/etc/mysql/my.cnf", Detector.PATH_TRAVERSAL),
    ("/usr/local/php/lib/php.ini\x00", Detector.PATH_TRAVERSAL),
    # The 0x2e spelling of dots and slashes, in upper case.
    ("..0X2F..0X2FETC0X2FSHADOW", Detector.PATH_TRAVERSAL),
    # Calls written with a space before "(", with code for an argument.
    ('"><img src=x onerror=alert (1)>', Detector.XSS),
    ("'-prompt (document.domain)-'", Detector.XSS),
    ("confirm ('xss')", Detector.XSS),
    ("alert (String.fromCharCode(88))", Detector.XSS),
]


@pytest.mark.parametrize("text", BENIGN)
def test_code_and_prose_are_not_flagged(text: str) -> None:
    assert scan(text) is None


@pytest.mark.parametrize(("payload", "rule"), ATTACKS)
def test_attacks_of_the_same_shape_are_flagged(payload: str, rule: Detector) -> None:
    finding = scan(payload)
    assert finding is not None
    assert finding.rule is rule


_NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True)
_LITERAL = st.one_of(
    st.from_regex(r"'[a-z0-9 _-]{0,12}'", fullmatch=True),
    st.from_regex(r'"[a-z0-9 _-]{0,12}"', fullmatch=True),
    st.integers(-999, 99_999).map(str),
    _NAME,
)
_BATCH_OPERAND = st.one_of(
    st.from_regex(r'"%?[a-z0-9~_]{0,8}%?"', fullmatch=True),
    st.from_regex(r"[a-z0-9_%]{1,10}", fullmatch=True),
    st.from_regex(r"\[%?[a-z0-9]{0,6}\]", fullmatch=True),
)
_BATCH_COMMAND = st.sampled_from(["echo hi", "goto end", "del x.txt", "(", "set a=1", "@echo x"])


@given(
    indent=st.sampled_from(["", "    ", "\t"]),
    left=_NAME,
    right=_LITERAL,
    tail=st.sampled_from(
        [":", ":  # note", " and ok:", " or done:", ") {", ") return 0;", " then"]
    ),
    paren=st.booleans(),
)
def test_a_comparison_in_code_is_no_batch_command(
    indent: str, left: str, right: str, tail: str, paren: bool
) -> None:
    if tail in (") {", ") return 0;"):
        line = f"{indent}if ({left} == {right}{tail}"
    else:
        line = f"{indent}if {'(' if paren else ''}{left} == {right}{')' if paren else ''}{tail}"
    assert command_reason(line.lower()) != "batch command", line


@given(
    left=_BATCH_OPERAND,
    right=_BATCH_OPERAND,
    spaced=st.booleans(),
    negated=st.booleans(),
    command=_BATCH_COMMAND,
    gap=st.sampled_from([" ", "\t", "  ", " \t"]),
)
def test_a_batch_comparison_before_a_command_is_flagged(
    left: str, right: str, spaced: bool, negated: bool, command: str, gap: str
) -> None:
    """cmd.exe splits on tabs as on spaces: a tab between the words changes nothing."""
    equals = f"{gap}=={gap}" if spaced else "=="
    line = f"if{gap}{'not' + gap if negated else ''}{left}{equals}{right}{gap}{command}"
    assert command_reason(line.lower()) == "batch command", line


# The batch rule as one pattern searched from the start, as it was first written: the start of
# the value, or after its first run of "&" or "|".
_BATCH_SEARCHED = re.compile(r"^\s*+(?:[^&|]*+[&|]++\s*+)?" + _BATCH.pattern.removeprefix(r"\s*+"))
_BATCH_PIECES = [
    "if ", "if\t", "if/i ", "for ", "not ", "exist ", "a==b", "x ", "==", " ", "&", "&&", "|",
    "||", ";", "%%g", " in (", "(", "do", "echo", "'", '"', ":", "\n",
]  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(_BATCH_PIECES), max_size=14).map("".join))
@example("| if a==b echo & x")  # the first run is the "|": the "&" comes later
@example("x & if a==b echo | y")
def test_the_batch_rule_reads_where_the_searched_pattern_read(value: str) -> None:
    """Two anchored matches (the start, after the first run of & or |) as the one search."""
    assert _batch_command(value) == (_BATCH_SEARCHED.search(value) is not None), value
