"""SQL injection: a SQL lexer and token-sequence analysis, not keyword regexes.

An injected value has to leave the literal it was placed in and then continue as valid SQL. So
the value is lexed three times, as libinjection does: as if placed bare (``id=1 OR 1=1``),
inside single quotes and inside double quotes. In a quoted context the text up to the first
matching quote is the literal the attacker closes. The token stream then has to show SQL
structure to count: a closed literal followed by a comment, a boolean operator with a
comparison, ``UNION SELECT``, a stacked statement with its own grammar (``; DROP TABLE x``), a
time or file function call. Prose such as "Please select a size and drop me a line; thanks!"
never forms such a sequence: apostrophes inside words are followed by letters, and English
verbs are not followed by the tokens SQL needs after them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from itertools import compress
from operator import itemgetter
from typing import Final

from ._text import LONG_TEXT, NONE_AS_EMPTY, contains_any

__all__ = ["sql_reason"]

# One master pattern; each alternative starts with a distinct character class, so it cannot
# backtrack catastrophically. Input is lower-cased first. Words come first: they are most of
# what is lexed, and no other alternative starts with a letter. Quoted strings and block
# comments are written as unrolled loops (a run of plain characters, then one escape at a
# time): the engine takes a plain run in one step instead of trying three branches a char.
# What the lexer skips as whitespace is skipped by the pattern: a closed ordinary block comment
# and a line comment that a newline ends (more code follows). As tokens, each cost a Python
# step: 2,000 "/**/ " took 1.8 ms, and no token limit counted them. The skip is possessive.
# A skip that reaches the end of the text matches by the second alternative: with the
# whitespace character it ended with, as the one-character token the lexer has always made
# of it (a word for U+2003 and the other spaces past U+00BF, else "other"), or with nothing.
# (Not matching there, re tried again at every later position: quadratic. That alternative
# needs one skip at least, so no empty match follows it.)
_SKIP: Final = r"(?:[\s\x00-\x1f]++|/\*(?!!)[^*]*+(?:\*(?!/)[^*]*+)*+\*/|(?:--|\#)[^\n]*+\n)"
_TOKEN = re.compile(
    _SKIP
    + r"""*+(?:
    (?P<word>[a-z_\u00c0-\uffff][a-z0-9_$\u00c0-\uffff]*(?:\.[a-z_*][a-z0-9_$]*)*)
  | (?P<lcomment>--[^\n]*|\#[^\n]*)
  | (?P<bcomment>/\*[^*]*(?:\*(?!/)[^*]*)*(?:\*/|\Z))
  | (?P<sq>'[^'\\]*(?:(?:\\.|'')[^'\\]*)*+(?:'|\\?\Z))
  | (?P<dq>"[^"\\]*(?:(?:\\.|"")[^"\\]*)*+(?:"|\\?\Z))
  | (?P<bq>`[^`]*(?:`|\Z))
  | (?P<num>0x[0-9a-f]+|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?[df]?)
  | (?P<var>@@?[a-z0-9_$.]*)
  | (?P<op><=>|<>|!=|<=|>=|\|\||&&|::|:=|@>|<@|\?\||\?&|[=<>!+\-*/%&|^~])
  | (?P<punct>[(),;.])
  | (?P<other>.)
    )
  | """
    + _SKIP
    + r"""++(?:(?<=(?P<trailword>[\u00c0-\uffff]))\Z|(?<=(?P<trail>[\s\x00-\x1f]))\Z|\Z)
    """,
    re.VERBOSE | re.DOTALL,
)

_CMP: Final = frozenset(
    {
        "=",
        "<",
        ">",
        "<=",
        ">=",
        "<>",
        "!=",
        "<=>",
        "like",
        "rlike",
        "regexp",
        "is",
        "in",
        "@>",
        "<@",
    }
    | {"?|", "?&", "ilike", "similar", "glob"}
)
_CMP_WORDS: Final = frozenset(
    {"like", "rlike", "regexp", "is", "in", "between", "sounds", "ilike", "similar", "glob"}
)
_CONSTANTS: Final = frozenset(
    {"true", "false", "null", "current_user", "user", "database", "session_user", "system_user"}
)
# Functions strong enough alone, in any context: time delays, file access, error-based
# extraction, out-of-band channels, command execution.
_ALWAYS_FUNCTIONS: Final = frozenset(
    {
        "benchmark",
        "ctxsys.drithsx.sn",
        "dbms_lock.sleep",
        "dbms_pipe.receive_message",
        "extractvalue",
        "gtid_subset",
        "lo_import",
        "load_file",
        "name_const",
        "pg_read_file",
        "pg_sleep",
        "randomblob",
        "sp_executesql",
        "sp_makewebtask",
        "sp_oacreate",
        "updatexml",
        "utl_http.request",
        "utl_inaddr.get_host_address",
        "utl_inaddr.get_host_name",
        "xp_cmdshell",
        "xp_dirtree",
        "xp_regread",
    }
)
# Functions attackers call inside a condition or a select list (string slicing, casts,
# conditionals): evidence together with SQL around them, never alone.
_ATTACK_FUNCTIONS: Final = _ALWAYS_FUNCTIONS | frozenset(
    {
        "@@version",
        "ascii",
        "case",
        "cast",
        "char",
        "chr",
        "concat",
        "concat_ws",
        "convert",
        "count",
        "current_database",
        "db_name",
        "elt",
        "exp",
        "floor",
        "geometrycollection",
        "group_concat",
        "hex",
        "if",
        "iif",
        "isnull",
        "json_keys",
        "len",
        "length",
        "lpad",
        "make_set",
        "md5",
        "mid",
        "multipoint",
        "ord",
        "pi",
        "polygon",
        "rand",
        "row",
        "rpad",
        "schema",
        "session_user",
        "sha1",
        "sleep",
        "substr",
        "substring",
        "system_user",
        "unhex",
        "user_name",
        "version",
    }
)
_SCHEMA_WORDS: Final = frozenset(
    {
        "information_schema",
        "sysobjects",
        "syscolumns",
        "sysusers",
        "sys.objects",
        "sys.tables",
        "mysql.user",
        "pg_catalog",
        "pg_shadow",
        "pg_user",
        "all_tables",
        "user_tables",
        "sqlite_master",
        "msysobjects",
        "master..sysdatabases",
    }
)
_SCHEMA_PREFIXES: Final = ("information_schema.", "mysql.", "pg_catalog.", "master.")
_SERVER_VARIABLES: Final = frozenset(
    {
        "@@version",
        "@@datadir",
        "@@basedir",
        "@@hostname",
        "@@servername",
        "@@language",
        "@@spid",
        "@@tmpdir",
        "@@plugin_dir",
        "@@version_compile_os",
        "@@version_comment",
        "@@secure_file_priv",
        "@@identity",
        "@@rowcount",
        "@@error",
        "@@global",
        "@@session",
        "@@port",
        "@@innodb_version",
        "@@microsoftversion",
    }
)

_TYPE_OF_GROUP: Final = {
    "lcomment": "c",
    "bcomment": "C",
    "sq": "s",
    "dq": "s",
    "bq": "w",
    "num": "n",
    "var": "v",
    "op": "o",
    "other": "?",
    "trail": "?",
    "trailword": "w",
}

Token = tuple[str, str]


def _lex(text: str, limit: int = 48) -> list[Token]:
    """Tokens of *text* as (type, text), block comments dropped, at most *limit* tokens."""
    return _Lexer(text).take(limit)


class _Lexer:
    """The token stream of one text, lexed as far as asked and resumed from there.

    A context lexes `_HEAD` tokens for its own rules and then, for the whole-value rules,
    `_FULL`: the second request goes on from where the first stopped instead of lexing the
    head again. A limit only cuts the stream (the scan stops after the token that reaches
    it), so the first *limit* tokens of a longer lex are the shorter lex, except that the
    last of them is a call only when the token after it is a "(" the shorter lex never saw.
    """

    __slots__ = ("_matches", "_text", "_versioned", "done", "tokens")

    def __init__(self, text: str) -> None:
        self._text = text
        self._matches = _TOKEN.finditer(text)
        self._versioned = False  # a versioned comment's body was lexed to the limit then asked
        self.done = False
        self.tokens: list[Token] = []

    def take(self, limit: int) -> list[Token]:
        """What lexing *text* to at most *limit* tokens gives (a new list)."""
        if self._versioned:
            return _Lexer(self._text).take(limit)  # the body's share depended on the limit
        tokens = self.tokens
        # A lex keeps one token at least. After a versioned comment's body the tokens are the
        # lex to this limit from the start: what _lex gives.
        if len(tokens) < max(limit, 1) and not self.done and self._fill(limit):
            return tokens[:]
        limit = max(limit, 1)
        if len(tokens) <= limit:
            return tokens[:]
        head = tokens[:limit]
        if head[-1][0] == "f":
            head[-1] = ("w", head[-1][1])  # a call because of the "(" past the limit
        return head

    def _fill(self, limit: int) -> bool:
        """Lex on until *limit* tokens; whether a versioned comment's body was lexed."""
        tokens = self.tokens
        append = tokens.append
        size = len(self._text)
        keyword = _KEYWORD_TYPES.get
        word, punct, op, num = _WORD, _PUNCT, _OP, _NUM
        for match in self._matches:
            index = match.lastindex
            if index is None:
                continue  # trailing whitespace
            value = match[index]
            if index == word:
                kind = keyword(value)
                if kind is None:
                    # Every schema prefix ends with a dot: most words skip the prefix test.
                    schema = value in _SCHEMA_WORDS or (
                        "." in value and value.startswith(_SCHEMA_PREFIXES)
                    )
                    kind = "T" if schema else "w"
                append((kind, value))
            elif index == punct:
                if value == "(" and tokens and tokens[-1][0] == "w":
                    tokens[-1] = ("f", tokens[-1][1])  # a word directly before "(" is a call
                append((value, value))
            elif index == op:
                append(("&" if value in ("||", "&&") else "o", value))
            elif index == num:
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
                    inner = _lex(body, limit - len(tokens))
                    if inner and inner[0][0] == "(" and tokens and tokens[-1][0] == "w":
                        tokens[-1] = ("f", tokens[-1][1])
                    tokens.extend(inner)
                    self._versioned = True
                continue
            else:
                append((_TYPE_OF_INDEX[index], value))
            if len(tokens) >= limit:
                return self._versioned
        self.done = True
        return self._versioned


# Group numbers of _TOKEN, looked up once: match.lastindex is cheaper than lastgroup.
_INDEX = _TOKEN.groupindex
_WORD, _PUNCT, _OP, _NUM = _INDEX["word"], _INDEX["punct"], _INDEX["op"], _INDEX["num"]
_LCOMMENT, _BCOMMENT = _INDEX["lcomment"], _INDEX["bcomment"]
_TYPE_OF_INDEX: Final = {_INDEX[name]: kind for name, kind in _TYPE_OF_GROUP.items()}


_KEYWORD_TYPES: Final = {
    "union": "U",
    "select": "S",
    "and": "&",
    "or": "&",
    "xor": "&",
    "not": "!",
    "div": "o",
    "mod": "o",
    "like": "o",
    "rlike": "o",
    "regexp": "o",
    "is": "o",
    "in": "i",
    "between": "o",
    "sounds": "o",
    "binary": "k",
    "collate": "w",
    "current_date": "n",
    "current_time": "n",
    "current_timestamp": "n",
    "utc_date": "n",
    "utc_time": "n",
    "localtime": "n",
    "ilike": "o",
    "similar": "o",
    "glob": "o",
    "except": "U",
    "intersect": "U",
    "from": "k",
    "where": "k",
    "having": "k",
    "order": "k",
    "group": "k",
    "limit": "k",
    "into": "k",
    "outfile": "k",
    "dumpfile": "k",
    "procedure": "k",
    "waitfor": "k",
    "delay": "k",
    "when": "k",
    "then": "k",
    "else": "k",
    "end": "k",
    "all": "k",
    "distinct": "k",
    "as": "k",
    "by": "k",
    "exec": "E",
    "execute": "E",
    "drop": "E",
    "insert": "E",
    "update": "E",
    "delete": "E",
    "declare": "E",
    "shutdown": "E",
    "truncate": "E",
    "create": "E",
    "alter": "E",
    "grant": "E",
    "revoke": "E",
    "rename": "E",
    "replace": "E",
    "call": "E",
    "set": "E",
    "use": "E",
    "load": "E",
    "begin": "E",
    "copy": "E",
    "values": "k",
    "table": "k",
    "database": "k",
    "true": "n",
    "false": "n",
    "null": "n",
}


def _operand_end(tokens: list[Token], i: int) -> int:
    """Index after one operand starting at *i*, or -1 when there is none."""
    n = len(tokens)
    if i >= n:
        return -1
    if tokens[i][1] in _UNARY:
        i = _unary_end(tokens, i)
    kind = tokens[i][0]
    if kind in ("v", "w", "T"):
        return i + 1
    if kind in ("s", "n"):
        end = i + 1
    elif kind == "f":
        end = _skip_parens(tokens, i + 1)
    elif kind == "(":
        end = _skip_parens(tokens, i)
    elif kind == "S":
        return n  # a sub-select runs to the end of what we look at
    else:
        return -1
    if end < n and tokens[end][1] == "::":  # the test first: most operands have no cast
        cast = _cast_end(tokens, end)
        return end if cast < 0 else cast
    return end


# Unary prefixes of an operand: signs, negation, MySQL's BINARY (a cast to a byte string).
_UNARY: Final = frozenset({"-", "+", "~", "!", "not", "binary"})


def _unary_end(tokens: list[Token], i: int) -> int:
    """Index of the operand after the unary prefixes at *i* (``-(``, ``!(``, ``binary 0``)."""
    last = len(tokens) - 1
    while i < last and tokens[i][1] in _UNARY and tokens[i][0] in ("o", "!", "k"):
        i += 1
    return i


# PostgreSQL type names as ``::type`` casts name them; error-based extraction casts text to a
# number (``unistr(password)::int``), JSON attacks cast literals (``'{...}'::jsonb @> ...``).
# Type names only: ``::`` between identifiers (C++ ``std::string``, Rust ``Foo::new``) never
# follows a ")" or a string literal with one of these after it.
_SQL_TYPES: Final = frozenset(
    {
        *("int", "int2", "int4", "int8", "integer", "bigint", "smallint", "numeric", "decimal"),
        *("real", "float", "float4", "float8", "money", "oid", "regclass", "regproc"),
        *("text", "varchar", "bpchar", "bytea", "bool", "boolean", "json", "jsonb", "xml"),
        *("date", "timestamp", "timestamptz", "interval", "inet", "cidr", "uuid", "tsvector"),
    }
)


def _cast_end(tokens: list[Token], i: int) -> int:
    """Index after a PostgreSQL cast ``::type`` (or ``::double precision``) at *i*, or -1."""
    n = len(tokens)
    if i + 1 >= n or tokens[i][1] != "::":
        return -1
    name = tokens[i + 1][1]
    if name in _SQL_TYPES:
        if i + 4 < n and tokens[i + 2][0] == "(" and tokens[i + 4][0] == ")":
            return i + 5 if tokens[i + 3][0] == "n" else -1  # ::varchar(8)
        return i + 2
    if name == "double" and i + 2 < n and tokens[i + 2][1] == "precision":
        return i + 3
    return -1


def _chain_end(tokens: list[Token], i: int) -> int:
    """Index after the binary operators and operands that continue an expression at *i*."""
    n = len(tokens)
    while i < n and tokens[i][0] in ("o", "i"):
        end = _operand_end(tokens, i + 1)
        if end < 0:
            break
        i = end
    return i


def _skip_parens(tokens: list[Token], i: int) -> int:
    depth = 0
    n = len(tokens)
    while i < n:
        kind = tokens[i][0]
        if kind == "(":
            depth += 1
        elif kind == ")":
            depth -= 1
            if depth <= 0:
                return i + 1
        i += 1
    return n


def _boolean_clause(
    tokens: list[Token], i: int, *, quoted: bool, start_of_value: bool = False
) -> bool:
    """Whether tokens from *i* (just after AND/OR) form a condition an attacker would append."""
    n = len(tokens)
    if i < n and tokens[i][0] == "!":
        i += 1
    end = _operand_end(tokens, i)
    if end < 0:
        return False
    # OR -(true), OR !(false): the operand decides. A signed word (AND +current_user=...) is
    # no English word: its sign stays its first token.
    first = tokens[i]
    if first[1] in _UNARY:
        at = _unary_end(tokens, i)
        if tokens[at][0] not in ("w", "T"):
            first = tokens[at]
    if end + 1 < n and tokens[end][1] == "not" and tokens[end + 1][0] in ("o", "i"):
        end += 1  # 1 NOT LIKE 0, x NOT IN (...)
    # A comparison: x = y, 1 like 1, 'a' between ..., x in (...).
    if end < n and (tokens[end][0] in ("o", "i") or tokens[end][1] in _CMP_WORDS):
        op = tokens[end]
        if op[1] in ("+", "-", "*", "/", "%", "|", "&", "^", "~", "!"):
            right = _operand_end(tokens, end + 1)
            return (
                first[0] in ("n", "f", "(")
                and right > 0
                and tokens[end + 1][0] in ("n", "f", "(", "v")
                and (right >= n or tokens[right][0] in ("c", "o", ")"))
            )
        right_start = end + 1
        if right_start < n and tokens[right_start][1] in ("not", "like", "to"):
            right_start += 1  # IS NOT, SOUNDS LIKE, SIMILAR TO
        right = _operand_end(tokens, right_start)
        if right < 0:
            return False
        if tokens[right_start][1] in ("null", "true", "false") and op[1] == "is":
            return True  # x IS [NOT] NULL
        if start_of_value and first[0] == "w" and tokens[right_start][0] in ("n", "s"):
            return True  # ' OR userid > 1, ' OR name LIKE '%
        if first[0] == "w" or tokens[right_start][0] == "w":
            # "x = y" or "file is not a ..." with bare words is arithmetic or prose, unless
            # both sides are the same word (x=x) or a comment ends the value.
            same = first[1] == tokens[right_start][1] and op[1] == "="
            return same or (right < n and tokens[right][0] == "c")
        return True
    if first[0] == "f" and first[1] not in _ATTACK_FUNCTIONS:
        return end < n and tokens[end][0] == "c"
    if first[0] == "n" and not quoted and first[1] not in ("true", "false", "null"):
        # 1 OR 1--, .1 OR UTC_DATE--: a bare number or date constant alone needs the comment
        # or statement end that makes it SQL.
        return end < n and tokens[end][0] in ("c", "C", ";", ")")
    if first[0] in ("f", "(", "S", "T") or (first[0] == "n" and quoted):
        # OR 1, AND SLEEP(5), OR (SELECT ...): the operand alone decides the row filter.
        return end >= n or tokens[end][0] in ("c", ";", ")", "&", "k", "U")
    if first[1] in ("true", "false", "null") and start_of_value:
        return end >= n or tokens[end][0] in ("c", "C", ";")
    if first[0] == "s":
        return end < n and tokens[end][0] in ("c", ";")
    return first[0] == "w" and end < n and tokens[end][0] == "c"


def _stacked(tokens: list[Token], i: int) -> bool:
    """Whether a statement starts at *i* (after ``;``) with the grammar that statement needs."""
    n = len(tokens)
    if i >= n:
        return False
    kind, word = tokens[i]
    nxt = tokens[i + 1] if i + 1 < n else ("", "")
    after = tokens[i + 2] if i + 2 < n else ("", "")
    if kind == "S":
        return _select_body(tokens, i + 1)
    if kind == "k" and word == "waitfor":
        return nxt[1] in ("delay", "time")
    if kind == "f":
        if word in ("sleep", "pg_sleep", "benchmark") and nxt[0] == "(":
            return True  # ;SLEEP(0): a statement of its own, whatever the argument
        return word in _ALWAYS_FUNCTIONS or _delay_call(tokens, i) or _constant_condition(tokens, i)
    if word in ("if", "while") and (
        _constant_condition(tokens, i)
        or _numeric_comparison(tokens, i + 1)
        or (nxt[0] == "(" and after[0] == "S")
    ):
        return True  # T-SQL: ;IF 1=1 DROP ...
    if kind != "E":
        return False
    if word == "drop" and nxt[0] == "w" and (after[0] in ("c", "C", ";") or i + 2 >= n):
        return True  # ;DROP members --
    if word in ("drop", "create", "alter", "truncate", "rename"):
        return nxt[1] in (
            "table",
            "database",
            "user",
            "procedure",
            "function",
            "view",
            "index",
            "schema",
            "login",
            "trigger",
        )
    if word == "delete":
        if nxt[1] in ("low_priority", "quick", "ignore"):
            nxt = after
        return nxt[1] == "from"
    if word == "insert":
        return nxt[1] == "into"
    if word == "update":
        return nxt[0] in ("w", "T") and after[1] == "set"
    if word in ("exec", "execute"):
        if nxt[0] == "(":
            return after[0] in ("s", "v")
        if nxt[1] == "as":
            return after[1] in ("login", "user", "caller")
        return nxt[0] == "v" or nxt[1].startswith(("xp_", "sp_", "master"))
    if word == "declare":
        return nxt[0] == "v" or (nxt[0] == "w" and after[1] in ("cursor", "table"))
    if word == "shutdown":
        return i + 1 >= n or nxt[0] in ("c", ";", "w")
    if word == "set":
        return nxt[0] == "v"
    if word == "grant":
        return True
    if word == "load":
        return nxt[1] in ("data", "xml", "load_file")
    if word == "begin" and nxt[0] == "E":
        return True
    if word in ("begin", "call", "copy"):
        return nxt[0] in ("f", "w") and (after[0] in ("(", ";", "c") or after[1] in ("from", "to"))
    return False


def _select_body(tokens: list[Token], i: int) -> bool:
    """Whether what follows SELECT is a select list (not an English object)."""
    n = len(tokens)
    if i >= n:
        return False
    while i < n and tokens[i][1] in ("all", "distinct", "top", "-", "+", "~", "binary"):
        i += 1
    if i >= n:
        return False
    kind, word = tokens[i]
    if kind in ("v", "f", "(", "T") or word == "*":
        return True
    if kind == "s":
        return i + 1 < n and (tokens[i + 1][0] in (",", "U", "c") or tokens[i + 1][1] == "from")
    if kind == "n":
        if i + 2 < n and tokens[i + 1][0] == "w" and tokens[i + 2][1] == "from":
            return True  # select 1 alias from dual
        return i + 1 >= n or tokens[i + 1][0] in (",", "k", "c", ")", ";", "o", "&", "U")
    if kind == "w" and word in _CONSTANTS and (i + 1 >= n or tokens[i + 1][0] in (";", "c", ",")):
        return True
    if kind == "w":
        # select name, email from users / select password from users where ...
        j = i + 1
        if j < n and (tokens[j][0] == "," or tokens[j][1] in ("/", "*", "+", "-", "||")):
            return True
        if j < n and tokens[j][1] in ("group", "order", "having", "limit", "into"):
            return True
        if j < n and tokens[j][1] == "from" and j + 1 < n and tokens[j + 1][0] in ("w", "T"):
            k = j + 2
            return (
                k >= n
                or tokens[k][0] in ("k", "c", ";", ")", "&", "U")
                or tokens[k][1]
                in (
                    "where",
                    "limit",
                )
            )
    return False


def _union(tokens: list[Token], i: int) -> bool:
    """UNION [ALL|DISTINCT] [(] SELECT starting at *i*, or a trailing UNION after a value.

    EXCEPT and INTERSECT are English words too: they need a real select list after SELECT.
    """
    n = len(tokens)
    j = i + 1
    while j < n and (tokens[j][1] in ("all", "distinct") or tokens[j][0] == "("):
        j += 1
    if tokens[i][1] != "union":
        if j < n and tokens[j][1] == "values":
            return j + 1 < n and tokens[j + 1][0] == "("
        return j < n and tokens[j][0] == "S" and _select_body(tokens, j + 1)
    if j < n and tokens[j][0] not in ("c", "C"):
        return tokens[j][0] == "S"
    # A trailing UNION, or one that only comments follow: -1#...\nunion#...
    return (
        i > 0
        and tokens[i - 1][0] in ("n", ")", "c")
        and all(t[0] in ("c", "C") for t in tokens[j:])
    )


_VALUE_ISH: Final = frozenset({"n", "v", "s", "w", "(", ")", "o", "f", ",", "i"})


def _analyse(
    tokens: list[Token], *, quoted: bool, quote: str = "", complete: bool = True
) -> str | None:
    """Context rules: what follows the point where the value leaves its literal or number."""
    n = len(tokens)
    if not n:
        return None
    start = 1 if quoted else 0
    while start < n and tokens[start][0] == ")":
        start += 1
    if start >= n:
        return None
    parens = start - (1 if quoted else 0)
    if start + 2 < n and tokens[start][1] == "as" and tokens[start + 1][0] == "w":
        start += 2  # ') AS alias WHERE ...
    kind, word = tokens[start]
    if quoted:
        # Weak evidence (a comment or a comparison right after the quote) counts only when
        # the closed literal looks like a form value (a word or two), not a sentence whose
        # apostrophe happens to precede "--".
        value_like = _value_like(tokens[0][1])
        if kind == "C" or (kind == "c" and value_like and _short_comment(word)):
            return "quote closed before a comment"
        if kind == ";" and value_like and (start + 1 >= n or tokens[start + 1][0] == "c"):
            return "quote closed before a statement end"
        if kind in ("o", "i") and word not in ("!", "~"):
            right = _operand_end(tokens, start + 1)
            if right > 0:
                nxt = tokens[start + 1][0]
                arithmetic = word in ("+", "-", "||", "|", "*", "/", "&", "^")
                if arithmetic and nxt in ("f", "(", "S", "v"):
                    return "expression after a closed quote"
                chain = _chain_end(tokens, right)  # ^0+0+1-1 = (0)--, like(0) + 1--
                if (
                    chain < n
                    and tokens[chain][0] == "c"
                    and value_like
                    and _short_comment(tokens[chain][1])
                ):
                    return "expression before a comment"
                ends = right >= n or tokens[right][0] in ("c", "&", ";", ")")
                if ends and value_like and word in ("=", "<", ">", "<=", ">=", "<>", "!=", "<=>"):
                    return "comparison after a closed quote"
                if right < n and tokens[right][0] == "c" and word in _CMP:
                    return "comparison after a closed quote"
        if kind == "E" and _stacked(tokens, start):
            return "statement after a closed quote"
        if (
            word in ("notnull", "isnull")
            and value_like
            and start + 1 < n
            and tokens[start + 1][0] == "c"
            and _short_comment(tokens[start + 1][1])
        ):
            return "null test before a comment"  # ' NOTNULL --: PostgreSQL's IS NOT NULL
        if (
            kind == "!"
            and start + 2 < n
            and tokens[start + 1][1] in _CMP
            and tokens[-1][0] == "c"
            and _short_comment(tokens[-1][1])
        ):
            return "negated comparison after a closed quote"  # id'NOT LIKE id--
        if complete and _balanced_quote(tokens, start, quote):
            return "condition balanced by the closing quote"
        if complete and word == "||" and _concatenation(tokens, start, quote):
            return "concatenation closed by the closing quote"
        if complete and _open_comparison(tokens, start):
            return "comparison completed by the closing quote"
    elif (kind == "E" and word in ("exec", "execute", "declare") and _stacked(tokens, start)) or (
        kind == "E" and start == 0 and _full_statement(tokens)
    ):
        return "statement"
    elif kind == "C" and parens == 0 and start > 0:
        return "open comment after a value"
    elif complete and _number_then_comment(tokens):
        return "comment after a number"
    if kind == ";" and _stacked(tokens, start + 1):
        return "stacked query"
    if kind == "U" and _union(tokens, start):
        return "union select"
    if kind == "w" and word == "collate" and start + 2 < n and tokens[start + 2][0] == "c":
        return "collation change before a comment"
    if kind == "k" and (quoted or parens or start == 0) and _clause(tokens, start):
        return "clause after a closed quote" if quoted else "clause"
    if (
        kind == "k"
        and parens
        and word == "from"
        and start + 2 < n
        and tokens[start + 2][1]
        in (
            "where",
            "limit",
        )
    ):
        return "clause after a value"
    if kind == "c" and parens and not quoted:
        return "parenthesis closed before a comment"
    if not quoted and kind in ("s", "f") and _cast_value(tokens, start):
        return "type cast of a value"
    if not quoted and kind == "(" and complete and _parenthesised_comment(tokens):
        return "parenthesised expression before a comment"
    return _first_condition(tokens, start, quoted=quoted)


def _cast_value(tokens: list[Token], start: int) -> bool:
    """``unistr(password)::int``, ``'{"b":2}'::jsonb @> ...``: a value that is a SQL expression.

    A call cast to a SQL type is PostgreSQL's error-based extraction (the cast's error message
    shows the text); a string literal cast to a type and then an operator or comment is an
    expression on it. A parenthesis cast alone is not enough: Haskell annotates
    ``(read line)::Int``, and ``'a'::Char`` ends there.
    """
    n = len(tokens)
    kind = tokens[start][0]
    if kind == "s":
        if start + 1 >= n or tokens[start + 1][1] != "::":
            return False
        cast = _cast_end(tokens, start + 1)
        if cast < 0 or cast >= n:
            return False
        if tokens[cast][0] in ("c", "C"):
            return True
        # An operator (@>, ||, #-, ->) and a value: not a Haskell arrow to a type name. The
        # "@" of @> and <@ lexes as a variable with no name.
        k = cast
        while k < n and k < cast + 2 and (tokens[k][0] in ("o", "&") or tokens[k][1] == "@"):
            k += 1
        return cast < k < n and tokens[k][0] in ("s", "n", "f", "(", "v")
    if kind != "f" or ("o", "::") not in tokens:  # "in": one pass in C before the walk
        return False
    cast = _cast_end(tokens, _skip_parens(tokens, start + 1))
    return cast >= n or (cast >= 0 and tokens[cast][0] in ("o", "c", "C", "&", ";", ")"))


def _first_condition(tokens: list[Token], start: int, *, quoted: bool) -> str | None:
    """The first AND/OR after a short value-like prefix, followed by a condition."""
    n = len(tokens)
    words = 0
    for k in range(start, min(n, start + 12)):
        kind = tokens[k][0]
        if kind == "&" or (kind == "!" and k + 1 < n and tokens[k + 1][0] == "&"):
            j = k + 1 if kind == "&" else k + 2
            numeric_lead = tokens[start][0] == "n"
            if not _boolean_clause(
                tokens,
                j,
                quoted=quoted,
                start_of_value=quoted or numeric_lead or k == start,
            ):
                return None
            if not quoted:
                prefix = tokens[start:k]
                if any(t[0] == "o" and t[1] in _CMP for t in prefix):
                    return None  # "75 > 96 and 96 > 0": arithmetic, not a value
                if tokens[k][1] in ("||", "&&") and not _has_comparison(tokens, j):
                    return None
            if quoted or k == start or any(t[0] in ("n", "v", ")", "f", "s") for t in tokens[:k]):
                return "boolean condition" + (" after a closed quote" if quoted else "")
            if _tautology(tokens, j) or _numeric_comparison(tokens, j):
                return "tautology"
            return None
        if kind == "U" and _union(tokens, k):
            return "union select"
        if kind == "E" and k > start and tokens[k - 1][0] in ("n", ")") and _stacked(tokens, k):
            return "statement after a value"
        if (
            kind == "k"
            and tokens[k][1] in ("where", "having", "group", "order")
            and _clause(tokens, k)
        ):
            return "clause"
        if (
            kind == "k"
            and tokens[k][1] == "from"
            and k > start
            and tokens[k - 1][0] == ")"
            and k + 2 < n
            and tokens[k + 2][1] in ("where", "limit", "order", "group")
        ):
            return "clause after a value"
        if kind not in _VALUE_ISH:
            return None
        if kind == "w":
            words += 1
            if words > 2:
                return None
    return None


def _full_statement(tokens: list[Token]) -> bool:
    """A whole statement with its grammar: CREATE TABLE t (, INSERT INTO t VALUES, ..."""
    n = len(tokens)
    if n < 4:
        return False
    word, nxt, name, after = tokens[0][1], tokens[1][1], tokens[2], tokens[3]
    if word == "drop" and tokens[1][0] == "w":
        return name[0] in (";", "c")  # DROP sampletable;--
    if name[0] not in ("w", "T", "f"):
        return False
    if word == "create" and nxt in ("function", "procedure", "trigger"):
        return after[0] == "("
    if word == "alter" and nxt == "table":
        return after[1] in ("add", "change", "drop", "modify", "rename", "alter")
    if word == "create" and nxt == "table":
        return after[0] == "(" or name[0] == "f"
    if word == "insert" and nxt == "into":
        return after[1] in ("values", "select", "(") or name[0] == "f"
    if word == "delete" and nxt == "from":
        return after[1] in ("where", ";")
    if word == "drop" and nxt in ("table", "database"):
        return after[0] in (";", "c")
    if word == "update" and name[1] == "set":
        return after[0] == "w" and n > 4 and tokens[4][1] == "="
    return False


def _number_then_comment(tokens: list[Token]) -> bool:
    """``1--``, ``1 * 1 /*``: a numeric value whose rest the comment removes from the query."""
    if len(tokens) < 2 or tokens[-1][0] not in ("c", "C") or not _short_comment(tokens[-1][1]):
        return False
    if tokens[-1][1].lstrip("-#/* ")[:1].isdigit():
        return False  # "34 -- 85" is arithmetic: minus minus eighty-five
    body = tokens[:-1]
    return body[0][0] in ("n", "v") and all(
        kind in ("n", "v") or (kind == "o" and word in ("*", "+", "-", "/")) for kind, word in body
    )


def _parenthesised_comment(tokens: list[Token]) -> bool:
    """``( COS ( @a OR 'b') ) --``: a balanced SQL expression in parentheses, then a comment."""
    last = tokens[-1]
    if last[0] != "c" or not _short_comment(last[1]) or tokens[-2][0] != ")":
        return False
    inner = tokens[1:-2]
    depth = 0
    for kind, _ in tokens[:-1]:  # balanced groups, possibly joined: ( @a ) IN ( 'b' ) --
        depth += (kind == "(") - (kind == ")")
        if depth < 0:
            return False
    if not inner or depth != 0:
        return False
    previous = ""
    for kind, _ in inner:
        if kind == "w" and previous == "w":
            return False
        previous = kind
    return any(kind in ("v", "s", "n", "f", "S", "&", "o") for kind, _ in inner)


def _constant_condition(tokens: list[Token], i: int) -> bool:
    """IF(1=2, ...), IIF(2510=9436, ...): a branch on a comparison of two constants."""
    if tokens[i][1] not in ("if", "iif", "elt", "case", "while"):
        return False
    window = [t for t in tokens[i + 1 : i + 8] if t[0] != "("]
    return len(window) >= 3 and window[0][0] == "n" and window[1][1] in _CMP and window[2][0] == "n"


def _has_comparison(tokens: list[Token], i: int) -> bool:
    return any(t[0] in ("o", "i") and t[1] in _CMP for t in tokens[i : i + 16])


def _balanced_quote(tokens: list[Token], start: int, quote: str) -> bool:
    """``' OR 'a'='a``: SQL operators between the closed literal and an open final literal.

    The application's own closing quote completes the last literal, so the value needs no
    comment to stay valid SQL. Bare words in between (``students' or teachers'``) mean prose.
    """
    last = tokens[-1]
    if len(tokens) - start < 2 or last[0] != "s" or not _unterminated(last[1]):
        return False
    if last[1][0] != quote or not _value_like(tokens[0][1]):
        return False
    tail = last[1][1:]
    if len(tail) > 12 or tail[:1].isspace():
        return False
    middle = tokens[start:-1]
    for k, t in enumerate(middle):
        if t[0] in ("&", "o", "!", "s", "n", "(", ")", "i", "f", "U", "S", "k"):
            continue
        if t[0] == "w" and k + 1 < len(middle) and middle[k + 1][0] in ("o", "&", "i", "!"):
            continue  # ' OR userid LIKE '%, ' or column && '1
        return False
    symbolic = any(
        t[0] == "o" and t[1] in _CMP and k > 0 and middle[k - 1][0] in ("s", "n", ")")
        for k, t in enumerate(middle)
    )
    if symbolic:
        return True
    operator = any(t[0] in ("&", "i", "o") for t in middle)
    if not operator:
        return False
    if tail == "":
        # ' OR ', 'LIKE', ' OR ''*': only when nothing but the quote came before.
        return tokens[0][1] == "" and all(t[0] in ("&", "o", "!", "i", "s", "n") for t in middle)
    return (len(tail) <= 4 or "=" in tail) and _TAIL.fullmatch(tail) is not None


# The last literal's text: a word or a comparison, perhaps with the comment marks typed after
# it out of habit (' OR '1=1#;--: inside the literal they are text, and MySQL reads it as 1).
def _concatenation(tokens: list[Token], start: int, quote: str) -> bool:
    """``x'||'y'||'``, ``'||f('a')||'``: operands concatenated between the quotes.

    The closed literal, ``||`` and an operand at least once, then ``||`` and a bare quote that
    the application's closing quote turns into an empty literal: the value's text became
    SQL expressions (a string probe, a function call) inside a valid string expression.
    """
    n = len(tokens)
    if tokens[-1][0] != "s" or tokens[-1][1].rstrip() != quote or not _value_like(tokens[0][1]):
        return False
    i = start
    while i < n - 2 and tokens[i][1] == "||":
        end = _operand_end(tokens, i + 1)
        if end < 0 or end > n - 2 or tokens[i + 1][0] == "w":
            return False
        i = end
    return i == n - 2 and i > start and tokens[i][1] == "||"


_TAIL = re.compile(r"-?[a-z0-9_=%]++[#;-]*+\s*")


def _open_comparison(tokens: list[Token], start: int) -> bool:
    """``test' OR 1=``: OR/AND, an operand and a comparison with nothing after it.

    The application's closing quote supplies the right-hand side (``1=''``).
    """
    n = len(tokens)
    if n - start != 3 or tokens[start][0] != "&" or tokens[-1][1] not in _CMP:
        return False
    return tokens[start + 1][0] in ("n", "w", "s") and tokens[start + 1][1] not in _STOP_OPERANDS


_STOP_OPERANDS: Final = frozenset({"a", "an", "the", "i", "it"})


def _unterminated(literal: str) -> bool:
    return len(literal) == 1 or literal[-1] != literal[0]


def _value_like(literal: str) -> bool:
    """A closed literal that looks like a form value: short, at most three words."""
    return len(literal) <= 40 and literal.count(" ") <= 2


def _short_comment(comment: str) -> bool:
    """A comment as injections end with (``--``, ``-- -``, ``#``, ``--+``), not prose."""
    if comment.startswith("#"):
        return not any(c.isalnum() for c in comment)
    body = comment[2:].strip()
    # --sp_password: MSSQL leaves statements that mention it out of its trace.
    return (len(body) <= 8 and " " not in body) or body.startswith("sp_password")


def _clause(tokens: list[Token], i: int) -> bool:
    """A SQL clause with its grammar at *i*: WHERE 1=1, ORDER BY 3, INTO OUTFILE, LIMIT 1."""
    n = len(tokens)
    word = tokens[i][1]
    nxt = tokens[i + 1] if i + 1 < n else ("", "")
    if word in ("where", "having"):
        if nxt[0] == "f" and nxt[1] not in _ATTACK_FUNCTIONS:
            return False
        if nxt[0] == "w":
            return _tautology(tokens, i + 1)
        return _boolean_clause(tokens, i + 1, quoted=True) or nxt[0] == "("
    if word in ("order", "group"):
        if nxt[1] != "by" or i + 2 >= n:
            return False
        target = tokens[i + 2][0]
        after_target = tokens[i + 3] if i + 3 < n else ("", "")
        return target in ("n", "f", "(") or (
            target == "w" and (after_target[0] in ("c", "C") or after_target[1] == "having")
        )
    if word == "into":
        return nxt[1] in ("outfile", "dumpfile") or nxt[0] == "v"
    if word == "limit":
        return nxt[0] == "n"
    if word == "procedure":
        return nxt[0] == "f"
    return False


def _numeric_comparison(tokens: list[Token], i: int) -> bool:
    """AND 8=3, AND (8)=(3), AND -8=-3: constants compared, the blind-injection probe."""
    values = [t for t in tokens[i : i + 9] if t[0] not in ("(", ")") and t[1] not in ("-", "+")]
    return len(values) >= 3 and values[0][0] == "n" and values[1][1] in _CMP and values[2][0] == "n"


def _tautology(tokens: list[Token], i: int) -> bool:
    n = len(tokens)
    if i + 2 < n and tokens[i + 1][1] == "=":
        return tokens[i][1] == tokens[i + 2][1]
    return False


_PROCEDURE_PREFIXES: Final = ("xp_cmdshell", "master..xp_", "sp_oacreate", "sp_configure")


# Token kinds no rule of _anywhere() starts at: values, operators, comments, most punctuation
# and the words of these kinds are never a procedure name or "case". Keywords ("k") only
# through "waitfor" and "into".
_INERT_KINDS: Final = frozenset({"n", "o", "s", "c", "C", "?", "(", ")", ",", ".", "!", "i"})
_ANYWHERE_KEYWORDS: Final = frozenset({"waitfor", "into"})


def _anywhere(tokens: list[Token]) -> str | None:
    n = len(tokens)
    inert = _INERT_KINDS
    for i, (kind, word) in enumerate(tokens):
        if kind in inert or (kind == "k" and word not in _ANYWHERE_KEYWORDS):
            continue  # most tokens: one look instead of the twenty tests below
        if kind == "&":  # AND/OR/XOR/&&/||: of the tests below only the last can match
            if word in ("and", "or", "&&", "||") and _delay_call(tokens, i + 1):
                return "time delay"
            continue
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


_INFO_FUNCTIONS: Final = frozenset(
    {"version", "user", "database", "schema", "current_user", "system_user", "session_user"}
)


def _char_chain(tokens: list[Token], i: int) -> bool:
    """CHAR(60)+CHAR(47) or CHR(11)||CHR(12): a string built from character codes."""
    end = _skip_parens(tokens, i + 1)
    return (
        i + 2 < len(tokens)
        and tokens[i + 2][0] == "n"
        and end + 1 < len(tokens)
        and tokens[end][1] in ("+", "||", ",")
        and tokens[end + 1][1] in ("char", "chr", "nchar")
    )


def _case_expression(tokens: list[Token], i: int) -> bool:
    window = [t[1] for t in tokens[i + 1 : i + 14]]
    if len(window) > 1 and window[0] != "when" and tokens[i + 1][0] in ("n", "s", "w"):
        window = window[1:]  # CASE x WHEN ...
    return (
        bool(window)
        and window[0] == "when"
        and "then" in window
        and ("end" in window or "else" in window)
    )


def _delay_call(tokens: list[Token], i: int) -> bool:
    """SLEEP(5), BENCHMARK(1000000, ...), PG_SLEEP(5) at *i*: a call with a number first."""
    return (
        i + 2 < len(tokens)
        and tokens[i][0] == "f"
        and tokens[i][1] in ("sleep", "benchmark", "pg_sleep", "dbms_lock.sleep")
        and tokens[i + 1][0] == "("
        and (
            tokens[i + 2][0] in ("(", "f", "S")
            or (
                tokens[i + 2][0] == "n"
                and tokens[i + 2][1].strip("0.") != ""
                and i + 3 < len(tokens)
                and tokens[i + 3][0] in (")", ",", "o")
            )
        )
    )


def _mentions_from(tokens: list[Token], i: int) -> bool:
    return any(t[1] == "from" for t in tokens[i + 1 : i + 12])


# Characters without which no SQL injection can be written; plain text without them (and
# without the few keywords that need no punctuation) is skipped.
# MySQL runs the body of a versioned comment, /*!50000 union*/, and not what an ordinary
# comment holds (comments do not nest: "/* a /*!1 b */" is one comment). So one split finds
# both: an ordinary comment (group 1, to its close or the end), or a closed versioned one
# (group 2, its body, which stops at the next "/*"). Each is possessive and every character
# is read from one start: linear.
_COMMENT_OR_VERSIONED = re.compile(
    r"(/\*(?!!)(?:[^*]|\*(?!/))*+(?:\*/)?)|/\*!\d*+((?:[^*/]|\*(?!/)|/(?!\*))*+)\*/"
)
_VERSIONED = re.compile(r"/\*!\d*")
# Tested in two steps: a bare character class is a fast scan, where one pattern with "--" and
# "/*" as alternatives tried its branches at every "-" and "/" (100 us over "../../...").
_PREFILTER_CHAR = re.compile(r"['\"`;=()#@<>|&*]")
_PREFILTER_PAIRS: Final = ("--", "/*")
_PREFILTER_WORDS: Final = (
    "union",
    "select",
    "waitfor",
    "exec",
    "order",
    "having",
    "between",
    "case",
    "declare",
    "xor",
    " div ",
)
# Plain words that are SQL too: a leading number or operator, or a comparison keyword.
_PLAIN_SQL_START = re.compile(r"\s*(?:-?\.?\d|(?:and|or|xor|not)\b)")  # .1 is a number too
_PLAIN_SQL_WORDS: Final = ("like", "regexp", "sounds", "is not", "isnull")


def plain_sql_shape(low: str) -> bool:
    """Whether punctuation-free *low* could still be SQL (``1 and 2 sounds like 2``)."""
    return _PLAIN_SQL_START.match(low) is not None or contains_any(low, _PLAIN_SQL_WORDS)


# Rules of _anywhere() need one of these words, a call of a function they know, or a
# statement keyword after ";"; without any of them the full lex is skipped.
_ANYWHERE_WORDS: Final = (
    "union",
    "select",
    "waitfor",
    "outfile",
    "dumpfile",
    "@@",
    "declare",
    "exec",
    "case",
    "information_schema",
    "sysobjects",
    "syscolumns",
    "sysusers",
    "sys.",
    "pg_",
    "sqlite_master",
    "all_tables",
    "user_tables",
    "mysql.",
    "msysobjects",
)
_CALL = re.compile(r"([a-z_][a-z0-9_.]*)\s*\Z")
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")
# The trigger words in a SQL shape, not an English one ("select the blue one", "in case"):
# each branch starts with a literal, so the search is a fast scan. Control characters separate
# words as the lexer's whitespace does (Oracle and MSSQL read %00 and %01-%1f as spaces).
_SP = r"[\s\x00-\x1f]"  # one character of the lexer's whitespace
_SQL_PHRASE = re.compile(
    rf"select(?:{_SP}*[*@(\d'\"`-]|{_SP}+(?:all|distinct|top|null)\b"
    rf"|{_SP}+[a-z_][\w.$]*{_SP}*(?:[,;/*+|-]|from\b|\(|$))"
    rf"|select{_SP}*/\*|union(?:{_SP}|/\*|\(|%)*(?:all|distinct|select|\()"
    rf"|waitfor{_SP}+(?:delay|time)|outfile|dumpfile|@@|declare{_SP}+@"
    rf"|exec(?:ute)?{_SP}*(?:\(|@|xp_|sp_|master|as{_SP})"
    rf"|case{_SP}+[^;]{{0,40}}?\bwhen\b|information_schema|sysobjects|syscolumns|sysusers|sys\.\w"
    rf"|pg_\w+{_SP}*\(|pg_(?:catalog|shadow|user)|sqlite_master|all_tables|user_tables|mysql\.user"
    r"|msysobjects"
)
# A statement after ";" as `_wants_anywhere` looks for it: the whole run of letters after the
# ";" is a statement keyword, or IF/WHILE with a T-SQL condition. Led by the ";", the search
# skips everything else in one pass; the look at the first letter spares the alternatives
# where no word follows (one ";" after another in shell-like text: 150 ns each).
_STATEMENT_WORDS: Final = sorted(
    [word for word, kind in _KEYWORD_TYPES.items() if kind in ("E", "S")] + ["waitfor", "sleep"],
    key=lambda word: (-len(word), word),
)
_STATEMENT_AFTER_SEMICOLON = re.compile(
    r";\s*+(?=["
    + "".join(sorted({word[0] for word in _STATEMENT_WORDS} | {"i", "w"}))
    + r"])(?:(?:"
    + "|".join(_STATEMENT_WORDS)
    + r")(?![a-z_])|(?:if|while)(?![a-z_])(?=\s*(?:\(|\d|exists\b|not\s)))"
)


# How many tokens the context rules look at, and how many the whole-value rules do.
_HEAD: Final = 16
_FULL: Final = 160


_LEADING_WORD = re.compile(r"[a-z_]+")
# Possessive: no run gives back a letter (the next item needs a space, or no word character),
# and a value that is one long word fails in one pass instead of one try per letter (80 us).
_TWO_WORDS = re.compile(r"\s*+([a-z_]++)\s++([a-z_]++)(?![\w.$])(?!\s*\()")
_THREE_WORDS = re.compile(r"\s*+([a-z_]++)\s++([a-z_]++)\s++([a-z_]++)(?![\w.$])(?!\s*\()")


def _last_phrase(low: str, *, prefilter_words_absent: bool = False) -> int:
    """Where the last match of `_SQL_PHRASE` in *low* starts, or -1.

    Every branch of the pattern starts with one of `_ANYWHERE_WORDS`, so matches are tried
    only where str.rfind finds one: a search of the pattern tries every position that starts
    with one of a dozen common letters (400 us over 10,000 characters of prose). A quote
    context is a suffix of the value and no branch looks behind its start, so one value's
    answer serves every context: the context holds a match when it starts at or before this.

    Each scan of a long value for an absent word costs 3-5 us, so words are looked for only
    when a piece they share is there (`_PHRASE_GATES`), and not at all when the caller knows
    *low* lacks the prefilter words.
    """
    last = -1
    rfind = low.rfind
    long = len(low) > LONG_TEXT
    for gate, words in _PHRASE_GATES:
        if prefilter_words_absent and gate in _PREFILTER_WORDS:
            continue
        # On a long value rfind is 2-3 times faster than "in", and a gate that is the word
        # itself is left to the loop's own scan; on a short one "in" beats a method call.
        if (rfind(gate) < 0 if len(words) > 1 else False) if long else gate not in low:
            continue  # no word of the group occurs: the loop below would find nothing
        for word in words:
            end = len(low)
            while (at := rfind(word, last + 1, end)) >= 0:
                if _SQL_PHRASE.match(low, at) is not None:
                    last = at  # the rightmost for this word; only later ones can raise it
                    break
                end = at + len(word) - 1  # the occurrences that start before this one
    return last


# `_ANYWHERE_WORDS` grouped under a piece each word of the group contains (a word is its own
# piece when nothing cheaper serves). "declare" counts only as "declare @", so it needs "@".
_PHRASE_GATES: Final = (
    ("union", ("union",)),
    ("select", ("select",)),
    ("waitfor", ("waitfor",)),
    ("outfile", ("outfile",)),
    ("dumpfile", ("dumpfile",)),
    ("@", ("@@", "declare")),
    ("exec", ("exec",)),
    ("case", ("case",)),
    ("_", ("information_schema", "pg_", "all_tables", "user_tables")),
    ("sys", ("sysobjects", "syscolumns", "sysusers", "sys.", "msysobjects")),
    ("sql", ("sqlite_master", "mysql.")),
)


def _wants_anywhere(low: str, *, phrase: bool, calls: bool | None = None) -> bool:
    """Whether a whole-value rule could match *low*; *phrase*: `_SQL_PHRASE` matches in it.

    *calls*, when known (`_calls_among`), is `_calls_known_function` of *low*.
    """
    if phrase:
        return True
    if calls if calls is not None else ("(" in low and _calls_known_function(low)):
        return True
    return ";" in low and _STATEMENT_AFTER_SEMICOLON.search(low) is not None


def _calls_known_function(low: str) -> bool:
    """Whether one of the first `_FULL` "(" of *low* follows the name of a function we know.

    Calls past the full lex's horizon cannot matter. The text is split at those parentheses
    in one pass, each piece read as `_known_call_parens` reads it, up to the first call.
    """
    pieces = low.split("(", _FULL)
    pieces.pop()  # the text after the last of them
    for piece in pieces:
        if piece[-1:] in _CALL_ENDS and _call_name(piece, len(piece)) in _KNOWN_CALLS:
            return True
    return False


def _known_call_parens(low: str, count: int) -> list[int]:
    """Which of the first *count* "(" of *low* (0 for the first) follow a known function name.

    The text is split at those parentheses in one pass: `_call_name` reads back from a "("
    no further than the "(" before it (not a name character, not a space), so the piece
    before each gives the same name as the value. Most pieces end in a character no known
    name ends with; when there are many, those are passed over at C speed, without a Python
    step each (on a few, building the iterators costs more than the steps).
    """
    pieces = low.split("(", count)
    pieces.pop()  # the text after the last of them
    candidates: Iterable[int] = range(len(pieces))
    if len(pieces) > _MANY_PIECES:
        ends = map(_LAST_CHARACTER, pieces)
        candidates = compress(candidates, map(_CALL_ENDS.__contains__, ends))
    known: list[int] = []
    for index in candidates:
        piece = pieces[index]
        if piece[-1:] in _CALL_ENDS and _call_name(piece, len(piece)) in _KNOWN_CALLS:
            known.append(index)
    return known


_MANY_PIECES: Final = 16
_LAST_CHARACTER: Final = itemgetter(slice(-1, None))


def _calls_among(known: list[int], first: int) -> bool:
    """Whether one of the `_FULL` "(" from the one numbered *first* is in *known*.

    *known* is `_known_call_parens` of a value (far enough), and *first* the number of the
    first "(" of a suffix that starts after a quote: the answer is `_calls_known_function`
    of that suffix. The quote stops `_call_name`'s reading back (neither a name character
    nor a space), so each "(" of the suffix follows the name it follows in the whole value,
    and one split of the whole value answers every quote context (three splits of 10,000
    characters of random punctuation cost 270 us, one 90).
    """
    at = bisect_left(known, first)
    return at < len(known) and known[at] < first + _FULL


_CALL_WORDS: Final = frozenset({"sleep", "pg_sleep", "benchmark", "iif", "nchar"})
_NAME_STARTS: Final = frozenset("abcdefghijklmnopqrstuvwxyz_")
_KNOWN_CALLS: Final = _ATTACK_FUNCTIONS | _CALL_WORDS | _INFO_FUNCTIONS
# A name ends with the piece's last character, or spaces follow it (every character
# str.isspace() accepts lies below U+3001): one look rejects the other pieces.
_CALL_ENDS: Final = (frozenset(name[-1] for name in _KNOWN_CALLS) & _NAME_CHARS) | frozenset(
    char for char in map(chr, range(0x3001)) if char.isspace()
)


def _call_name(low: str, paren: int) -> str:
    """The name `_CALL` finds before the "(" at *paren* in the 48 characters before it, or "".

    Read backwards from the "(": the search tries every start in the window and runs each
    to its end (48 x 48 steps a parenthesis; 3.6 us each, 150 us over a long text).
    """
    window = max(0, paren - 48)
    end = paren
    while end > window and low[end - 1].isspace():
        end -= 1  # the spaces between the name and its "("
    start = end
    while start > window and low[start - 1] in _NAME_CHARS:
        start -= 1  # the run of name characters that ends there
    for at in range(start, end):
        if low[at] in _NAME_STARTS:  # the pattern's name starts at the leftmost letter or _
            return low[at:end]
    return ""


# Words at least one bare-context rule needs (logic, set operations, statements, clauses).
_BARE_KEYWORDS: Final = frozenset(
    word for word, kind in _KEYWORD_TYPES.items() if kind in ("&", "!", "U", "E", "k", "o", "i")
) | {"case", "if", "while", "sleep", "benchmark", "collate", "waitfor"}


def _bare_rules_may_apply(low: str) -> bool:
    """Whether any bare-context rule could match.

    Each needs a SQL keyword, a comment, a statement end or a leading parenthesis within the
    first tokens. Prose and form values without any of them skip the lexer (the whole-value
    rules still run).
    """
    head = low[:_BARE_WINDOW]
    if head.lstrip().startswith("(") or contains_any(head, _BARE_MARKS):
        return True
    return not _BARE_KEYWORDS.isdisjoint(_WORD_RUN.findall(head))


_BARE_WINDOW: Final = 256
# ")::" and "'::": a PostgreSQL cast of a call or a literal (`_cast_value`).
_BARE_MARKS: Final = (";", "--", "#", "/*", "&&", "||", ")::", "'::")
_WORD_RUN = re.compile(r"[a-z_]+")


def _context(
    low: str,
    prefix: list[Token],
    *,
    quote: str,
    phrase: bool,
    calls: bool | None = None,
) -> str | None:
    if not prefix and not _bare_rules_may_apply(low):
        wanted = _wants_anywhere(low, phrase=phrase, calls=calls)
        return _anywhere(_lex(low, _FULL)) if wanted else None
    words = _THREE_WORDS.match(low)
    two = _TWO_WORDS.match(low) if words is None or words.group(1) in _KEYWORD_TYPES else None
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
        if not _wants_anywhere(low, phrase=phrase, calls=calls):
            return None
        return _anywhere(prefix + _lex(low, _FULL))
    lexer = _Lexer(low)
    head = prefix + lexer.take(_HEAD)
    quoted = bool(prefix)
    complete = len(head) - len(prefix) < _HEAD
    reason = _analyse(head, quoted=quoted, quote=quote, complete=complete)
    if reason is None and _wants_anywhere(low, phrase=phrase, calls=calls):
        full = head if complete else prefix + lexer.take(_FULL)  # goes on after the head
        reason = _anywhere(full)
    return reason


def versioned_as_code(low: str) -> str:
    """*low* with each MySQL versioned comment (``/*!50000 union*/``) replaced by its body.

    MySQL runs that body as code; between spaces it is read as code here too. An opener left
    without a close becomes a space. Ordinary comments stay, with what they hold: a quote in
    one still ends the application's string. One split and maps at C speed: a template's
    Python call a comment cost 1.7 ms over 1,666 of them.
    """
    if low.rfind("/*!") < 0:  # rfind: faster than "in" on long text (see contains_any)
        return low
    if low.rfind("*/") >= 0:
        parts = _COMMENT_OR_VERSIONED.split(low)  # text, comment, body, text, ...
        comments, bodies = parts[1::3], parts[2::3]
        parts[1::3] = map(NONE_AS_EMPTY, comments, comments)  # a comment is its own default
        parts[2::3] = map(NONE_AS_EMPTY, bodies, map(" {} ".format, bodies))  # " body "
        low = "".join(parts)
    return _VERSIONED.sub(" ", low)


def sql_reason(text: str) -> str | None:
    """Why *text* (decoded and lower-cased) is a SQL injection, or None.

    Linear in ``len(text)``: the lexer is one pass of a non-backtracking pattern over a bounded
    number of tokens, once bare and once per quote character the value contains.
    """
    low = text  # lower-cased by the engine
    low = versioned_as_code(low)
    words_absent = False
    if (
        _PREFILTER_CHAR.search(low) is None
        and not contains_any(low, _PREFILTER_PAIRS)
        and not contains_any(low, _PREFILTER_WORDS)
    ):
        if not plain_sql_shape(low):
            return None
        words_absent = True  # known now: _last_phrase need not look for them again
    # Where the last phrase of the whole-value rules starts: a quote context (a suffix of the
    # value) holds one when it starts at or before it.
    phrase = _last_phrase(low, prefilter_words_absent=words_absent)
    cuts = (low.find("'"), low.find('"'))
    # On long text, the known calls among the parentheses any context looks at (up to the
    # `_FULL`th after the quote that starts the last one), found once for all of them, if
    # any context holds no phrase (one that does wants the whole-value rules anyway). Short
    # text is split by each context that needs it: mostly none does (a rule of the head
    # matched first), and the search stops at the first call.
    known: list[int] | None = None
    if len(low) > LONG_TEXT and (phrase < 0 or phrase <= max(cuts)):
        known = _known_call_parens(low, low.count("(", 0, max(*cuts, 0)) + _FULL)
    calls = None if known is None else _calls_among(known, 0)
    reason = _context(low, [], quote="", phrase=phrase >= 0, calls=calls)
    if reason:
        return reason
    for quote, cut in zip(("'", '"'), cuts, strict=True):
        if cut >= 0:
            rest = low[cut + 1 :]
            if rest[:1].isalpha() and cut and low[cut - 1].isalpha():
                # An apostrophe inside a word (it's, O'Brien) breaks out only when a SQL
                # keyword follows it directly: x'or'1'='1, user'exec ...
                word = _LEADING_WORD.match(rest)
                if word is None or word.group() not in _KEYWORD_TYPES:
                    continue
            if known is not None:
                calls = bool(known) and _calls_among(known, low.count("(", 0, cut))
            reason = _context(
                rest, [("s", low[:cut])], quote=quote, phrase=phrase > cut, calls=calls
            )
            if reason:
                return reason
    return None
