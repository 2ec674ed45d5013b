"""SQL injection techniques the detector once missed, and the benign look-alikes of each.

Every case is written for this file (variants of a technique, not lines of the benchmark
corpora): a PostgreSQL cast of a call or literal, an operand behind a unary sign, an
expression chain after a closed quote, a concatenation closed by the application's quote,
comment marks typed after a balanced literal, control characters as word separators, and
PostgreSQL's postfix null tests.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardpoint.validation import Detector, scan

ATTACKS = [
    # PostgreSQL casts: error-based extraction casts text to a number; JSON casts of literals.
    "md5(secret)::integer--",
    "convert_from(data, 'utf8')::numeric",
    "lower(api_key)::smallint",
    "left(token,4)::varchar(2) || 'x'",
    "array_to_string(names, ',')::double precision",
    '\'{"role":"user"}\'::jsonb || \'{"role":"admin"}\'',
    "'7'::int4 + 1",
    "'[1,2]'::jsonb @> '[2]'",
    # An operand behind a unary sign or NOT: the sign does not make it prose.
    "5' or -(1) #x",
    '7" or ~(0) # y',
    "3' and !(0) -- z",
    ".5 or current_time--",
    "2.75 or utc_time#",
    # An expression chain between the closed quote and a comment.
    "zz'*1-1 > (0)#",
    "bob' like (1) - 0 -- x",
    "name'%2 in (1,0)--",
    "q' rlike binary 1 = 1#",
    "k'&0|1-0 = 1-- -",
    # Operands concatenated between the closed quote and the application's closing one.
    "abc'||upper('x')||'",
    "9'||'q'||'z'||'",
    "'||current_setting('is_superuser')||'",
    'zz"||chr(88)||"',
    # Comment marks typed after a balanced literal (inside the literal they are text).
    "x' or '2=2;--",
    "\u2019 or \u2019a=a#",
    "id' OR 'z=z--;",
    # Control characters (%00-%1f) separate words as spaces do.
    "select%00name%00from%00members",
    "select%01password%01from%01accounts",
    "SELECT%0Bemail,pass%0BFROM%0Bcustomers",
    # PostgreSQL's postfix null tests after a closed quote.
    "abc' notnull#",
    "x' ISNULL --",
    "q' NOTNULL -- -",
]

BENIGN = [
    # Apostrophes and names.
    "it\u2019s fine",
    "O\u2019Brien",
    "O'Brien",
    "D'Arcy",
    "Rock 'n' roll",
    "Tom's || Jerry's",
    "don't -- really",
    # "::" in code, addresses and emoticons.
    "std::string name = foo();",
    "Foo::new()",
    "a::b",
    "a::int",
    "fe80::1",
    "2001:db8::ff00:42:8329",
    "::1",
    "decltype(x)::value_type v;",
    "std::vector<int>::size_type n = v.size();",
    'let n = "5".parse::<i32>().unwrap();',
    "(read line)::Int",
    "read s :: Int",
    "f :: Int -> Int",
    "'a'::Char",
    "'hello'::text",
    "x = Foo::bar(1)::baz",
    ":-) ::) (::",
    # Versions, signs and logic words in prose and form values.
    "v1.2.3-rc1",
    ".NET 4.8 or later",
    "3-true",
    "1-false",
    "true or false",
    "is not available",
    "it is not null or void",
    "score 5 or -3 points",
    "either 'red' or '-'",
    "a || b || c",
    "x' || y",
    "rock'||'",
    "It costs 5 - 3 = 2 dollars",
    "Bob said 'yes' - 1 more",
    "tab\tseparated\tselect\tvalues",
    "name\x00value",
]


@pytest.mark.parametrize("value", ATTACKS)
def test_technique_variants_are_sql_injection(value: str) -> None:
    finding = scan(value)
    assert finding is not None, value
    assert finding.rule is Detector.SQLI, (value, finding)


@pytest.mark.parametrize("value", BENIGN)
def test_look_alikes_are_clean(value: str) -> None:
    assert scan(value) is None, value


_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_TYPE = st.sampled_from(["int", "Int", "text", "Text", "json", "bool", "String", "i32", "usize"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_IDENT, min_size=2, max_size=5),
    st.sampled_from(["", "()", "(x)", "(1, 2)", "<T>", " x;", " = 1;", ";"]),
)
def test_scope_paths_are_clean(parts: list[str], tail: str) -> None:
    """C++, Rust, Ruby and PHP paths (``a::b::c()``) are never SQL, whatever the names."""
    assert scan("::".join(parts) + tail) is None


@settings(max_examples=200, deadline=None)
@given(_IDENT, _TYPE, st.sampled_from(["", " ", " -> Int", "\n"]))
def test_annotations_of_literals_and_groups_are_clean(name: str, kind: str, tail: str) -> None:
    """Haskell annotates groups and literals (``(read s)::Int``, ``'a'::Char``)."""
    for value in (f"({name} s)::{kind}{tail}", f"'a'::{kind}{tail}", f"{name} :: {kind}{tail}"):
        assert scan(value) is None, value


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["md5(a)::int", "x'||f(1)||'", "zz'*1-1 > (0)#", ".5 or utc_time--"]))
def test_long_padding_stays_fast(head: str) -> None:
    """A 10,000-character value around a technique: the rules look at a bounded head."""
    for value in (head + " a" * 5000, "(" * 5000 + head, head + "::int" * 2000):
        scan(value)  # must finish (and quickly: no catastrophic backtracking)


# Written for this test: each keyword may be wrapped in a MySQL versioned comment.
_VERSIONED_TEMPLATES = [
    "1 {union} {all} {select} null,version()--",
    "' {or} 1=1-- -",
    'x" {and} sleep(3)#',
    "5) {union} {select} table_name {from} information_schema.tables#",
    "'; {select} pg_sleep(4)--",
]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(_VERSIONED_TEMPLATES),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.sampled_from(["", "50000", "12345", "0"]),
    st.sampled_from(["", " "]),
)
def test_keywords_in_versioned_comments_are_read_as_code(
    template: str, wrapped: list[bool], version: str, pad: str
) -> None:
    """MySQL runs the body of ``/*!50000 union*/``: sqlmap's versionedkeywords tamper."""
    names = ("union", "all", "select", "or", "and", "from")
    words = {
        name: f"/*!{version}{pad}{name}{pad}*/" if wrap else name
        for name, wrap in zip(names, [*wrapped, True], strict=True)
    }
    value = template.format(**words)
    finding = scan(value)
    assert finding is not None, value
    assert finding.rule is Detector.SQLI, (value, finding)


def test_a_comment_that_is_not_versioned_stays_a_comment() -> None:
    assert scan("see /* the union of all select fields */ below") is None
    assert scan("see /*! a note */ below") is None
