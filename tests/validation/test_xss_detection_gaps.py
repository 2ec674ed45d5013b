"""XSS techniques the tokenizer missed: each rule by its technique, with fresh variants.

The payloads are written for these tests (variants of the technique, not corpus lines): JSFuck
(non-alphanumeric JavaScript, also with "+" form-decoded to " "), an attribute breakout that
sets other attributes before the handler, sinks passed as callbacks or called through
call/apply, computed keys of a global called at once, eval of decoded or assembled code, the
Function constructor called at once, and schemes split by &Tab; / &NewLine; (lower-cased).
Each has benign look-alikes that must stay unflagged.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardpoint.validation import Detector, scan
from hardpoint.validation._html import (
    _BREAKOUT_WINDOW,
    _HANDLER,
    _JSFUCK,
    _REVERSED_ATTRIBUTES_TO_QUOTE,
    _nonalphanumeric_script,
    xss_reason,
)

ATTACKS = [
    # JSFuck: "f", "a", "fa", numbers, "true"[1], undefined; with "+" and form-decoded to " ".
    "(![]+[])[+[]]",
    "(![] [])[ []]",
    "(![]+[])[+!+[]]+(![]+[])[+[]]",
    "!+[]+!+[]+!+[]",
    "! [] ! [] ! []",
    "[+!+[]]+[+[]]",
    "(!![]+[])[+!![]]",
    "(!![] [])[ !![]]",
    "[][(![]+[])[+[]]+(![]+[])[!+[]+!+[]]+(![]+[])[+!+[]]+(!![]+[])[+[]]]",
    "([][[]]+[])[!+[]+!+[]]+(![]+[])[!+[]+!+[]+!+[]]",
    '<a title="x" href="#" data-v="[][(![]+[])[+[]]]">',
    # An attribute breakout setting attributes before the handler.
    '" type=image src=null onerror=alert`1`',
    "' id=x tabindex=1 onfocus=go()",
    '"/class="a"/hidden/onmouseover=steal()',
    'x" a=/ onerror=go()',
    "\" a='b' c=d onclick=run()",
    "` lang=en dir=rtl onpointerenter=x",
    '" src=//evil.example/x.png width=1 onload=boom',
    'x"\tstyle=color:red\nonmouseenter=hit',
    '" autofocus onfocus=x',
    "'/autofocus/onfocus=go()",
    '"contenteditable id=z onbeforeinput=steal',
    # A sink handed to a function that calls it, or called through call/apply.
    "[7].map(confirm)",
    "[8].findIndex(prompt)",
    "Promise.resolve(9).then(alert)",
    "setTimeout(alert, 0)",
    "setInterval( prompt )",
    "queueMicrotask(confirm)",
    "[].forEach.call(null, alert)",
    "alert.call(null, 1)",
    "confirm.apply(window, [1])",
    "eval.call(top, code)",
    "prompt . apply(0,[2])",
    "Reflect.apply.call`${open}${window}${['//evil.example']}`",
    "Function.prototype.call.apply`${print}`",
    # A global's computed key called at once.
    "top[30..toString(36)](1)",
    "window[atob('YWxlcnQ=')](1)",
    "self[a+b](document.domain)",
    "frames[unescape('%61lert')](2)",
    "globalThis[x.y+z](3)",
    "parent [ k1 + k2 ] (4)",
    # eval of decoded, page-read or assembled code.
    "eval(atob('YWxlcnQoMSk='))",
    "eval(unescape(q))",
    "eval(decodeURIComponent(location.hash.slice(1)))",
    "eval(location.hash.substr(1))",
    "eval(window.name)",
    "eval(top.name)",
    "eval(p1 + p2 + p3)",
    "x=1;eval(a+b+c+d+e)",
    # The Function constructor called at once.
    "Function(atob(x))()",
    "new Function(name)()",
    "Function('ale'+'rt(1)')()",
    "new Function (location.hash.slice(1)) ()",
    # Schemes split by &Tab; / &NewLine;, here lower-cased as some pipelines store them.
    "ja&tab;vascript:void(0)",
    "j&newline;a&tab;v&tab;a&tab;script&colon;x()",
    "v&newline;b&tab;s&tab;c&tab;r&tab;i&tab;p&tab;t&colon;msgbox",
    '<a href="java&newline;script&colon;go()">x</a>',
]

BENIGN = [
    # Arrays, brackets and bangs in prose, Markdown and code.
    ">:(",
    "- [ ] task",
    "- [x] done, - [ ] todo",
    "x = [];",
    "arr = [ [], [] ]",
    "foo([], [])",
    "if (!items.length) return [];",
    "Wow!! That's great!",
    "Hooray!!! [] []",
    "!![] is true in JavaScript",
    "Why is ![] == false and !![] == true?",
    "![](a.png) ![](b.png)",
    "![][logo] ![][]",
    "x = [![]]",
    "ok = !![]; no = ![];",
    # Attributes and quotes in text.
    '"quoted" title=foo',
    'He said "hi" x=1 and onset=2',
    'He said "yes" and onset=3',
    'the "door" opens onload=x',
    # An unquoted value runs over "/": one attribute, class="a/onmouseover=x()".
    '"/class=a/onmouseover=x()',
    'the "mode" flag is set; a=1 onstart',
    "set width=100 onload=init",
    "name='a' b=c",
    # Callbacks and dynamic calls in ordinary code.
    "arr.find(x => x.id)",
    "items.map(item => item.name)",
    "alerts.filter(isActive)",
    "self.send(alert)",
    "notify(alert)",
    "passwd = input(prompt)",
    "return input(prompt).strip()",
    "setTimeout(tick, 1000)",
    "setInterval(poll, 500)",
    "promise.then(handleAlert)",
    "window[callback](data)",
    "window[config.callback](data)",
    "this[name + 'Handler'](event)",
    "self.items[i + 1]",
    "eval(name)",
    "eval(expr)",
    "the eval() function",
    "eval(a + b)",
    "function(a, b) { return a + b; }",
    "(function () { init(); })()",
    "define(function(require) { return {}; })",
    "new Function()",
    "call_function('x')(y)",
    "`fn.call` and `${x}`",
    "use ``obj.apply`` with ``${a}``",
    "const css = styled.div`${color}`",
    # Entity names in text.
    "tab&tab;separated: values",
    "Use &tab; and &newline; in HTML",
]


@pytest.mark.parametrize("payload", ATTACKS)
def test_attack_is_flagged_as_xss(payload: str) -> None:
    finding = scan(payload)
    assert finding is not None, payload
    assert finding.rule is Detector.XSS, (payload, finding)


@pytest.mark.parametrize("text", BENIGN)
def test_benign_near_miss_is_not_flagged(text: str) -> None:
    assert scan(text) is None


# --- JSFuck: encodings of any word, and the pattern against a plain reference. -----------------

_SOURCES = {"false": "(![]+[])", "true": "(!![]+[])", "undefined": "([][[]]+[])"}


def _number(n: int) -> str:
    return "+[]" if n == 0 else "+!+[]" if n == 1 else "+".join(["!+[]"] * n)


def _jsfuck_letter(letter: str) -> str:
    for word, source in _SOURCES.items():
        if letter in word:
            return f"{source}[{_number(word.index(letter))}]"
    raise AssertionError(letter)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="falsetrundi", min_size=1, max_size=8), st.booleans())
def test_jsfuck_encoding_of_any_word_is_flagged(word: str, form_decoded: bool) -> None:
    encoded = "+".join(_jsfuck_letter(letter) for letter in word)
    if form_decoded:
        encoded = encoded.replace("+", " ")
    assert xss_reason(encoded) == "non-alphanumeric script"
    assert scan(encoded) is not None


_ALPHABET = set("[]()!+ ")
_NEGATED = ("!", "!+", "! ")
_PLAIN = ("+", "[", "[ ")


def _reference_jsfuck(text: str) -> bool:
    """Two atoms ("[]" after a prefix, not called), one negated, apart by <= 12 of the alphabet."""
    spots = [
        i for i in range(len(text) - 1) if text.startswith("[]", i) and text[i + 2 : i + 3] != "("
    ]
    for first in spots:
        negated = any(text[:first].endswith(p) for p in _NEGATED)
        plain = any(text[:first].endswith(p) for p in _PLAIN)
        allowed = (_NEGATED + _PLAIN if negated else ()) + (_NEGATED if plain else ())
        for second in spots:
            between = text[first + 2 : second]
            if second < first + 2 or not set(between) <= _ALPHABET:
                continue
            if any(between.endswith(p) and len(between) - len(p) <= 12 for p in allowed):
                return True
    return False


_JSFUCK_TEXT = st.lists(
    st.sampled_from(["!", "[", "]", "+", " ", "(", ")", "a", "[]", "![]", "+[]", "  " * 4]),
    max_size=24,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(_JSFUCK_TEXT)
def test_jsfuck_pattern_matches_the_reference(text: str) -> None:
    assert (_JSFUCK.search(text) is not None) == _reference_jsfuck(text)
    assert _nonalphanumeric_script(text) == _reference_jsfuck(text)


# --- Attribute breakout: the reversed, bounded reading against a plain reference. --------------


def _reference_breakout(low: str) -> bool:
    """A handler after a quote (the older rule) or after name=value pairs that start at a quote.

    Reads every handler's whole window, without skipping text read before.
    """
    for handler in _HANDLER.finditer(low):
        start = handler.start()
        before = low[max(0, start - 8) : start].rstrip(" \t\n\r/")
        if start == 0 or ((not before or before[-1] in "'\"`") and not low[start - 1].isalnum()):
            return True
        if low[start - 1] in " \t\n\r/":
            window = low[max(0, start - _BREAKOUT_WINDOW) : start][::-1]
            if _REVERSED_ATTRIBUTES_TO_QUOTE.match(window) is not None:
                return True
    return False


# No "<" or ":" (no tag, no scheme), so the handler rules are the first that can answer.
_ATTRIBUTE_TEXT = st.lists(
    st.sampled_from(
        [*"\"'` /=\t\x0c", "a", "b", "x1", "onerror", "onxyz=", "on", '"v"', "'w'", "autofocus"]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(_ATTRIBUTE_TEXT)
def test_breakout_reading_matches_the_reference(text: str) -> None:
    assert (xss_reason(text) == "event handler after a quote") == _reference_breakout(text)


_NAME = st.from_regex(re.compile(r"[a-z][a-z0-9-]{0,8}"), fullmatch=True).filter(
    lambda name: not name.startswith("on")
)
_VALUE = st.one_of(
    st.from_regex(re.compile(r"[a-z0-9./:#-]{1,12}"), fullmatch=True),
    st.from_regex(re.compile(r'"[a-z0-9 ./:=-]{0,12}"'), fullmatch=True),
    st.from_regex(re.compile(r"'[a-z0-9 ./:=-]{0,12}'"), fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(['"', "'", "`"]),
    st.lists(
        st.tuples(_NAME, _VALUE, st.sampled_from([" ", " /", "/ ", "\n", "  "])),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["onerror", "onload", "onfocus", "onmouseover", "onanimationstart"]),
    st.sampled_from(["x", "", "hello world ", "x y=z "]),
    st.sampled_from(["", "autofocus", "contenteditable", "hidden"]),
)
def test_attributes_between_quote_and_handler_are_flagged(
    quote: str, pairs: list[tuple[str, str, str]], handler: str, prefix: str, boolean: str
) -> None:
    attributes = "".join(f"{separator}{name}={value}" for name, value, separator in pairs)
    if boolean:
        attributes += f"/{boolean}"
    payload = f"{prefix}{quote}{attributes} {handler}=go()"
    assert xss_reason(payload) is not None, payload
