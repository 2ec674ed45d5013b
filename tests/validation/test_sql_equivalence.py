"""The faster SQL detector gives exactly the verdicts and reasons of the version it replaced.

The rewrite of ``_sql`` (a lexer that goes on from the head it lexed instead of starting over,
a one-look skip of the tokens no whole-value rule starts at, the phrase words looked for only
when a piece they share is there, the known-call check on the pieces between parentheses, a
";"-led search for statements, possessive word runs) must not change any verdict or reason.
The replaced functions and patterns are kept here verbatim (renamed ``_old_...``) and compared
with the new ones on strings drawn from SQL fragments. Long draws (past 600 characters, and
past the 512 characters where ``_last_phrase`` changes how it looks) take the long-value paths:
the head lexed and then resumed past 16 tokens, the full lex cut at 160 tokens, the 160th
parenthesis, the 256-character window of the bare rules.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardpoint.validation import _sql
from hardpoint.validation._sql import (
    _ALWAYS_FUNCTIONS,
    _ANYWHERE_WORDS,
    _ATTACK_FUNCTIONS,
    _BCOMMENT,
    _CALL_WORDS,
    _FULL,
    _HEAD,
    _INFO_FUNCTIONS,
    _KEYWORD_TYPES,
    _LCOMMENT,
    _LEADING_WORD,
    _NAME_CHARS,
    _NUM,
    _OP,
    _PREFILTER_WORDS,
    _PROCEDURE_PREFIXES,
    _PUNCT,
    _SCHEMA_PREFIXES,
    _SCHEMA_WORDS,
    _SERVER_VARIABLES,
    _SQL_PHRASE,
    _TOKEN,
    _TYPE_OF_INDEX,
    _WORD,
    Token,
    _analyse,
    _bare_rules_may_apply,
    _call_name,
    _case_expression,
    _char_chain,
    _constant_condition,
    _delay_call,
    _mentions_from,
    _select_body,
    _stacked,
    _union,
    plain_sql_shape,
)
from hardpoint.validation._text import contains_any

# --- The replaced code, verbatim ----------------------------------------------------------

_PREFILTER_CHARS = re.compile(r"['\"`;=()#@<>|&*]|--|/\*")


def _old_lex(text: str, limit: int = 48) -> list[Token]:
    """Tokens of *text* as (type, text), block comments dropped, at most *limit* tokens."""
    tokens: list[Token] = []
    append = tokens.append
    size = len(text)
    keyword = _KEYWORD_TYPES.get
    for match in _TOKEN.finditer(text):
        index = match.lastindex
        if index is None:
            continue  # trailing whitespace
        value = match[index]
        if index == _WORD:
            kind = keyword(value)
            if kind is None:
                # Every schema prefix ends with a dot: most words skip the prefix test.
                schema = value in _SCHEMA_WORDS or (
                    "." in value and value.startswith(_SCHEMA_PREFIXES)
                )
                kind = "T" if schema else "w"
            append((kind, value))
        elif index == _PUNCT:
            append((value, value))
        elif index == _OP:
            append(("&" if value in ("||", "&&") else "o", value))
        elif index == _NUM:
            append(("n", value))
        elif index == _LCOMMENT:
            if match.end() < size:
                continue  # a line comment that more code follows: whitespace
            append(("c", value))
        elif index == _BCOMMENT:
            if not value.endswith("*/") and match.end() >= size:
                append(("C", value))  # an open comment swallowing the rest of the query
                break
            if value.startswith("/*!"):
                # MySQL executes versioned comments: lex their body as code.
                body = value[3:].rstrip("/").rstrip("*").lstrip("0123456789")
                tokens.extend(_old_lex(body, limit - len(tokens)))
            continue
        else:
            append((_TYPE_OF_INDEX[index], value))
        if len(tokens) >= limit:
            break
    # A word directly before "(" is a function call.
    for i in range(len(tokens) - 1 if "(" in text else 0):
        if tokens[i + 1][0] == "(" and tokens[i][0] == "w":
            tokens[i] = ("f", tokens[i][1])
    return tokens


def _old_anywhere(tokens: list[Token]) -> str | None:
    n = len(tokens)
    for i, (kind, word) in enumerate(tokens):
        if kind == "w":  # most tokens: only the two rules below can match a plain word
            if word.startswith(_PROCEDURE_PREFIXES):
                return "stored procedure"
            if word == "case" and _case_expression(tokens, i):
                return "case expression"
            continue
        if kind == "U" and _union(tokens, i):
            return "union select"
        if kind == ";" and _stacked(tokens, i + 1):
            return "stacked query"
        if kind == "f" and word in _ALWAYS_FUNCTIONS:
            return "dangerous function"
        if kind == "k" and word == "waitfor" and i + 1 < n and tokens[i + 1][1] == "delay":
            return "time delay"
        if (
            kind == "k"
            and word == "into"
            and i + 1 < n
            and tokens[i + 1][1]
            in (
                "outfile",
                "dumpfile",
            )
        ):
            return "file write"
        if kind == "T" and i and tokens[i - 1][1] == "from":
            return "schema enumeration"
        if (
            kind == "S"
            and (i == 0 or tokens[i - 1][0] in ("(", "&", "o", ",", "E"))
            and _select_body(tokens, i + 1)
            and (i == 0 or tokens[i - 1][0] == "(" or _mentions_from(tokens, i))
        ):
            return "select statement"
        if (
            kind == "E"
            and word in ("declare", "exec", "execute")
            and (i == 0 or tokens[i - 1][1] != ".")
            and _stacked(tokens, i)
        ):
            return "statement"
        if kind == "f" and _delay_call(tokens, i) and (i == 0 or tokens[i - 1][0] in "o&(,;"):
            return "time delay"
        if (
            kind == "f"
            and word in _ATTACK_FUNCTIONS
            and i + 2 < n
            and tokens[i + 2][0] == "f"
            and tokens[i + 2][1] in _ATTACK_FUNCTIONS
        ):
            return "nested extraction functions"
        if kind == "f" and _constant_condition(tokens, i):
            return "conditional on constants"
        if kind == "f" and word in ("char", "chr", "nchar") and _char_chain(tokens, i):
            return "character concatenation"
        if (
            kind == "f"
            and word in _INFO_FUNCTIONS
            and i >= 2
            and ((tokens[i - 1][0] == "(" and tokens[i - 2][0] == "f") or tokens[i - 1][0] == ",")
            and i + 2 < n
            and tokens[i + 2][0] == ")"
        ):
            return "server information function"
        if (
            kind == "f"
            and word in _ATTACK_FUNCTIONS
            and i + 2 < n
            and tokens[i + 2][0] == "n"
            and tokens[i + 2][1].startswith("0x")
            and len(tokens[i + 2][1]) > 6
        ):
            return "hex-encoded string"
        if word.startswith(_PROCEDURE_PREFIXES):
            return "stored procedure"
        if word == "case" and _case_expression(tokens, i):
            return "case expression"
        if kind == "v" and (
            word in _SERVER_VARIABLES or word.split(".", 1)[0] in _SERVER_VARIABLES
        ):
            return "server variable"
        if kind == "&" and word in ("and", "or", "&&", "||") and _delay_call(tokens, i + 1):
            return "time delay"
    return None


_OLD_AFTER_SEMICOLON = re.compile(r";\s*([a-z_]+)")


_OLD_TSQL_CONDITION = re.compile(r"\s*(?:\(|\d|exists\b|not\s)")


_OLD_TWO_WORDS = re.compile(r"\s*([a-z_]+)\s+([a-z_]+)(?![\w.$])(?!\s*\()")


_OLD_THREE_WORDS = re.compile(r"\s*([a-z_]+)\s+([a-z_]+)\s+([a-z_]+)(?![\w.$])(?!\s*\()")


def _old_last_phrase(low: str) -> int:
    """Where the last match of `_SQL_PHRASE` in *low* starts, or -1.

    Every branch of the pattern starts with one of `_ANYWHERE_WORDS`, so matches are tried
    only where str.rfind finds one: a search of the pattern tries every position that starts
    with one of a dozen common letters (400 us over 10,000 characters of prose). A quote
    context is a suffix of the value and no branch looks behind its start, so one value's
    answer serves every context: the context holds a match when it starts at or before this.
    """
    last = -1
    for word in _ANYWHERE_WORDS:
        end = len(low)
        while (at := low.rfind(word, last + 1, end)) >= 0:
            if _SQL_PHRASE.match(low, at) is not None:
                last = at  # the rightmost for this word; only later ones can raise it
                break
            end = at + len(word) - 1  # the occurrences that start before this one
    return last


def _old_wants_anywhere(low: str, *, phrase: bool) -> bool:
    """Whether a whole-value rule could match *low*; *phrase*: `_SQL_PHRASE` matches in it."""
    if phrase:
        return True
    paren = low.find("(")
    seen = 0
    while paren >= 0 and seen < _FULL:  # calls past the full lex's horizon cannot matter
        seen += 1
        before = low[paren - 1] if paren else ""
        if before not in _NAME_CHARS and not before.isspace():
            paren = low.find("(", paren + 1)
            continue  # _CALL needs a name character or a space right before the "("
        name = _call_name(low, paren)
        if name in _ATTACK_FUNCTIONS or name in _CALL_WORDS or name in _INFO_FUNCTIONS:
            return True
        paren = low.find("(", paren + 1)
    if ";" in low:
        for statement in _OLD_AFTER_SEMICOLON.finditer(low):
            word = statement.group(1)
            if _KEYWORD_TYPES.get(word) in ("E", "S") or word in ("waitfor", "sleep"):
                return True
            if word in ("if", "while") and _OLD_TSQL_CONDITION.match(low, statement.end()):
                return True
    return False


def _old_context(low: str, prefix: list[Token], *, quote: str, phrase: bool) -> str | None:
    if not prefix and not _bare_rules_may_apply(low):
        return (
            _old_anywhere(_old_lex(low, _FULL)) if _old_wants_anywhere(low, phrase=phrase) else None
        )
    words = _OLD_THREE_WORDS.match(low)
    two = _OLD_TWO_WORDS.match(low) if words is None or words.group(1) in _KEYWORD_TYPES else None
    if (
        (words is not None and not any(w in _KEYWORD_TYPES for w in words.groups()))
        or (
            two is not None
            and two.group(1) not in _KEYWORD_TYPES
            and _KEYWORD_TYPES.get(two.group(2)) in ("S", "E")
        )
        or (
            words is not None
            and words.group(1) not in _KEYWORD_TYPES
            and _KEYWORD_TYPES.get(words.group(2)) in ("S", "E")
        )
    ):
        # Three plain words first: no context rule can match (they need a value, an
        # operator or a keyword within the first tokens), so only whole-value rules remain.
        if not _old_wants_anywhere(low, phrase=phrase):
            return None
        return _old_anywhere(prefix + _old_lex(low, _FULL))
    head = prefix + _old_lex(low, _HEAD)
    quoted = bool(prefix)
    complete = len(head) - len(prefix) < _HEAD
    reason = _analyse(head, quoted=quoted, quote=quote, complete=complete)
    if reason is None and _old_wants_anywhere(low, phrase=phrase):
        full = head if complete else prefix + _old_lex(low, _FULL)
        reason = _old_anywhere(full)
    return reason


def old_sql_reason(text: str) -> str | None:
    """Why *text* (decoded and lower-cased) is a SQL injection, or None.

    Linear in ``len(text)``: the lexer is one pass of a non-backtracking pattern over a bounded
    number of tokens, once bare and once per quote character the value contains.
    """
    low = text  # lower-cased by the engine
    low = _sql.versioned_as_code(low)  # (since replaced: the opener alone was a space)
    if (
        _PREFILTER_CHARS.search(low) is None
        and not contains_any(low, _PREFILTER_WORDS)
        and not plain_sql_shape(low)
    ):
        return None
    # Where the last phrase of the whole-value rules starts: a quote context (a suffix of the
    # value) holds one when it starts at or before it.
    phrase = _old_last_phrase(low)
    reason = _old_context(low, [], quote="", phrase=phrase >= 0)
    if reason:
        return reason
    for quote in ("'", '"'):
        cut = low.find(quote)
        if cut >= 0:
            rest = low[cut + 1 :]
            if rest[:1].isalpha() and cut and low[cut - 1].isalpha():
                # An apostrophe inside a word (it's, O'Brien) breaks out only when a SQL
                # keyword follows it directly: x'or'1'='1, user'exec ...
                word = _LEADING_WORD.match(rest)
                if word is None or word.group() not in _KEYWORD_TYPES:
                    continue
            reason = _old_context(rest, [("s", low[:cut])], quote=quote, phrase=phrase > cut)
            if reason:
                return reason
    return None


# --- Strategies ---------------------------------------------------------------------------

_FRAGMENTS = [
    *("select", "union", "from", "where", "or", "and", "case", "when", "then", "end", "else"),
    *("sleep", "waitfor", "delay", "exec", "execute", "declare", "drop", "table", "insert"),
    *("into", "values", "all", "distinct", "if", "while", "benchmark", "pg_sleep", "char"),
    *("information_schema", "sys.", "sysobjects", "mysql.user", "pg_", "@@version", "@@"),
    *("outfile", "xp_cmdshell", "version", "user", "concat", "like", "is", "null", "not"),
    *("--", "#", "/*", "*/", "/*!50000", "'", '"', "`", "(", ")", ";", "=", ",", ".", "*"),
    *("||", "&&", "<>", "!", "@", "\\", "0x41424344", "0", "1", "2", "42", "1.5e3", ".5"),
    *(" ", " ", " ", "  ", "\n", "\t", "\x00", "\u2003", "\u3000"),
    *("a", "b", "x", "id", "name", "users", "the", "it's", "o'brien", "_", "$"),
    *("é", "ü", "中", "\u00c0", "\U0001f600", "\ud800"),
]
_fragment = st.sampled_from(_FRAGMENTS)
_short = st.lists(_fragment, max_size=40).map("".join)
# Long draws: past the 16-token head, the 160-token full lex, 160 parentheses, 512 characters.
_long = st.lists(_fragment, min_size=150, max_size=700).map("".join).filter(lambda v: len(v) > 600)
_values = st.one_of(_short, _long)
_LONG_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _lowered(value: str) -> str:
    return value.lower()


# --- The lexer ----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(_short, st.integers(0, 60))
def test_the_lexer_gives_the_tokens_of_the_old_one(value: str, limit: int) -> None:
    assert _sql._lex(value, limit) == _old_lex(value, limit)


@_LONG_SETTINGS
@given(_long, st.sampled_from([1, _HEAD, 48, _FULL, 200]))
def test_the_lexer_gives_the_tokens_of_the_old_one_on_long_values(value: str, limit: int) -> None:
    assert _sql._lex(value, limit) == _old_lex(value, limit)


@_LONG_SETTINGS
@given(_values, st.lists(st.sampled_from([0, 1, 2, _HEAD, 17, 48, _FULL, 161]), max_size=4))
def test_a_resumed_lex_gives_what_a_fresh_one_does(value: str, limits: list[int]) -> None:
    """The head first, then more: each answer is the old lex to that limit, in any order."""
    lexer = _sql._Lexer(value)
    for limit in [*limits, _HEAD, _FULL, _HEAD]:
        assert lexer.take(limit) == _old_lex(value, limit)


@given(st.integers(0, 40), st.sampled_from(["f(1)", "f (", "f", "(", "'a'("]))
def test_a_call_just_past_the_limit_stays_a_word_in_the_shorter_lex(words: int, tail: str) -> None:
    """The token at the limit is a call only to a lex that saw the "(" after it."""
    value = "a " * words + tail
    lexer = _sql._Lexer(value)
    for limit in (_FULL, words, words + 1, _HEAD, words + 2):
        assert lexer.take(limit) == _old_lex(value, limit)


# --- Whole-value rules, their gates, the context analysis -----------------------------------


@_LONG_SETTINGS
@given(_values)
def test_the_whole_value_rules_answer_as_before(value: str) -> None:
    for tokens in (_old_lex(value, _FULL), [("s", "x"), *_old_lex(value, _FULL)]):
        assert _sql._anywhere(tokens) == _old_anywhere(tokens)


@_LONG_SETTINGS
@given(_values)
def test_the_last_phrase_is_found_as_before(value: str) -> None:
    assert _sql._last_phrase(value) == _old_last_phrase(value)
    if not contains_any(value, _PREFILTER_WORDS):
        assert _sql._last_phrase(value, prefilter_words_absent=True) == _old_last_phrase(value)


@_LONG_SETTINGS
@given(_values, st.booleans())
def test_the_whole_value_gate_answers_as_before(value: str, phrase: bool) -> None:
    assert _sql._wants_anywhere(value, phrase=phrase) == _old_wants_anywhere(value, phrase=phrase)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*"ab_1.( \t\n;9z", "\u2003", "sleep", "sleep (", "x" * 30, "md5("]),
        max_size=400,
    ).map("".join)
)
def test_known_calls_are_found_among_the_first_parentheses_as_before(value: str) -> None:
    """Many parentheses: the 160th is the horizon in both versions."""
    assert _sql._wants_anywhere(value, phrase=False) == _old_wants_anywhere(value, phrase=False)


_QUOTED_CALLS = st.lists(
    st.sampled_from([*"a_1.( \t;'\"", "\u3000", "sleep", "sleep (", "x" * 30, "md5(", "((((("]),
    max_size=300,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_QUOTED_CALLS)
def test_the_calls_found_once_answer_every_quote_context(value: str) -> None:
    """The whole value is split once; each quote context is its own suffix."""
    cuts = (value.find("'"), value.find('"'))
    known = _sql._known_call_parens(value, value.count("(", 0, max(*cuts, 0)) + _FULL)
    for start in (0, *(cut + 1 for cut in cuts if cut >= 0)):
        suffix = value[start:]
        expected = "(" in suffix and _sql._calls_known_function(suffix)
        assert _sql._calls_among(known, value.count("(", 0, start)) == expected
        if ";" not in suffix:  # (the old gate also looks for a statement after one)
            assert expected == _old_wants_anywhere(suffix, phrase=False)
    assert _sql.sql_reason(value) == old_sql_reason(value)


@pytest.mark.parametrize("before", [0, 3, 200])
@pytest.mark.parametrize("parens", [158, 159, 160, 161])
def test_a_quote_context_sees_its_own_first_parentheses(before: int, parens: int) -> None:
    """The call after *parens* "(" counts in the quote context only when it is within its 160."""
    value = "(" * before + "x'" + "(" * parens + "sleep(1)"
    known = _sql._known_call_parens(value, before + _FULL)
    assert _sql._calls_among(known, before) == (parens < _FULL)
    assert _sql._calls_among(known, 0) == (before + parens < _FULL)
    assert _sql.sql_reason(value) == old_sql_reason(value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *(";", " ", "\n", "(", "1", "x", "exists", "not ", "not", "_"),
                *_sql._STATEMENT_WORDS,
                *("if", "while", "ifx", "while_", "select1", "executed", "sleeping"),
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_statements_after_a_semicolon_are_found_as_before(value: str) -> None:
    assert _sql._wants_anywhere(value, phrase=False) == _old_wants_anywhere(value, phrase=False)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "select", "union", "drop", "_", " ", "\n", "(", "1"]), max_size=12
    )
    .map("".join)
    .flatmap(lambda v: st.sampled_from([v, v + "a" * 700, "a" * 700 + v]))
)
def test_the_word_patterns_match_as_before(value: str) -> None:
    for new, old in ((_sql._TWO_WORDS, _OLD_TWO_WORDS), (_sql._THREE_WORDS, _OLD_THREE_WORDS)):
        found, expected = new.match(value), old.match(value)
        assert (found and (found.span(), found.groups())) == (
            expected and (expected.span(), expected.groups())
        )


@_LONG_SETTINGS
@given(_values, st.sampled_from(["", "'", '"']), st.booleans())
def test_a_context_gives_the_reason_it_gave(value: str, quote: str, phrase: bool) -> None:
    prefix: list[Token] = [("s", "abc")] if quote else []
    new = _sql._context(value, prefix, quote=quote, phrase=phrase)
    assert new == _old_context(value, prefix, quote=quote, phrase=phrase)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_the_prefilter_lets_through_what_it_did(value: str) -> None:
    new = _sql._PREFILTER_CHAR.search(value) is not None or contains_any(
        value, _sql._PREFILTER_PAIRS
    )
    assert new == (_PREFILTER_CHARS.search(value) is not None)


# --- Whole verdicts -----------------------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(_short)
def test_short_values_get_the_old_verdict(value: str) -> None:
    low = _lowered(value)
    assert _sql.sql_reason(low) == old_sql_reason(low)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_long)
def test_long_values_get_the_old_verdict(value: str) -> None:
    low = _lowered(value)
    assert _sql.sql_reason(low) == old_sql_reason(low)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80), st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=900))
def test_random_strings_get_the_old_verdict(value: str, ascii_value: str) -> None:
    for text in (value, ascii_value, value.lower(), ascii_value.lower()):
        assert _sql.sql_reason(text) == old_sql_reason(text)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["a", "x y z", "select", "'", "' or 1=1--", "(", "sleep(5)", "1 and 1=1"]),
    st.integers(500, 11_000),
    st.sampled_from(["a", " a", "'a", "a(", ";drop table x", "select a from b", "é"]),
)
def test_padded_values_get_the_old_verdict(head: str, size: int, pad: str) -> None:
    """One long word, a long unterminated string, long runs after an attack or before one."""
    for value in (head + pad * (size // len(pad)), pad * (size // len(pad)) + head):
        assert _sql.sql_reason(value) == old_sql_reason(value)


def test_every_space_ends_a_piece_that_may_hold_a_call() -> None:
    """`_CALL_ENDS` reads str.isspace() for characters below U+3001 only: there are no others."""
    spaces = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert spaces <= _sql._CALL_ENDS
