"""Cross-site scripting: an HTML tag tokenizer and JavaScript sink checks.

A browser runs script from a value in a few ways only: a script-capable element (``<script>``,
``<iframe>``, ``<object>``...), an event-handler attribute (``onerror=``), a URL attribute with
a script scheme (``javascript:``, ``vbscript:``, ``data:text/html``), CSS that executes
(``expression(``, ``behavior:``), or, inside an existing attribute or script, a quote that breaks
out followed by a handler or a call. Tags are tokenized the way browsers do it (a ``<`` followed
by a letter opens a tag; ``/`` separates attributes; quotes delimit values), so ``I <3 you``,
``a < b`` and harmless markup like ``<b>`` or ``<a href="/apps/">`` pass.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from itertools import repeat
from typing import Final

from ._text import contains_any, longest_first, replace_chars

__all__ = ["xss_reason"]

# Values longer than this take paths that cost a few calls more and save full scans.
_LONG: Final = 256

_TAG = re.compile(r"<[/!]?\s{0,2}([a-z][a-z0-9:_-]*)")
# XML and IE constructs that load or run code: external entities, stylesheets, behaviours.
_ACTIVE_MARKUP = re.compile(
    r"<!entity[^>]{0,256}(?:system|public)|<\?xml-stylesheet|<\?import|<xsl:|<!--\s*\[if"
    r"|<!\[cdata\[.{0,256}<"
)
# Attributes inside a tag: a name, then optionally = and a quoted or bare value. Each branch
# starts with a different character, so there is no backtracking between them.
_ATTR = re.compile(
    r"""[\s/"'`]*([^\s"'`>/=]+)(?:\s*=\s*("[^"]*"?|'[^']*'?|`[^`]*`?|[^\s>]*))?""",
)
_DANGEROUS_TAGS: Final = frozenset(
    {
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "base",
        "xml",
        "import",
        "xss",
        "vmlframe",
        "isindex",
        "xmp",
        "plaintext",
        "noscript",
        "template",
        "portal",
        "handler",
        "listener",
        "style",
        "link",
        "svg",
        "math",
        "marquee",
        "bgsound",
        "layer",
        "ilayer",
        "blink",
    }
)
# Form controls: harmless as a bare word in angle brackets, a phishing form with attributes.
_FORM_TAGS: Final = frozenset({"form", "input", "button", "textarea", "keygen", "select"})
_ACTIVE_ATTRS: Final = frozenset(
    {"datasrc", "datafld", "dataformatas", "formaction", "xlink:href", "ev:event", "ev:handler"}
)
_URL_ATTRS: Final = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "data",
        "xlink:href",
        "from",
        "to",
        "values",
        "by",
        "background",
        "dynsrc",
        "lowsrc",
        "poster",
        "codebase",
        "code",
        "srcdoc",
        "content",
        "folder",
        "datasrc",
        "ping",
        "cite",
        "longdesc",
        "profile",
        "usemap",
        "manifest",
        "icon",
        "archive",
        "classid",
        "xmlns",
        "attributename",
        "rel",
        "value",
    }
)
_SCRIPT_SCHEME = re.compile(
    r"(?:java|vb|live|ecma|j|mocha)script:|mocha:|data:\s*(?:text/html|[^,]{0,64}base64)"
)
_CSS_EXEC = re.compile(
    r"expression\s*\(|behaviou?r\s*:|-moz-binding|@import|url\s*\(\s*['\"]?\s*javascript"
)
# JavaScript that is an attack wherever it appears: DOM writes, cookie theft, computed
# access to globals, alert-style calls with an argument, tagged templates of sinks. Only
# whether one matches counts. Each rule is (gate word, pattern): the gate is a word of
# _JS_WORDS the pattern cannot match without. A pattern led by ``\b`` or a group of
# alternatives makes re try a match at every position of the text, so the patterns are led by
# their word and check the word boundary after it (``alert(?<=\balert)``): re then scans for
# the word and tries a match only where it occurs.
_CALLS = ("alert", "prompt", "confirm", "eval")
_GLOBALS = ("top", "window", "self", "parent", "frames", "globalthis", "this")
# The argument of a call written with a space before its "(", when it reads as code: not a
# letter (a number, a quote, a regular expression, a bracket), or a name followed by code (a
# member of two or more letters, a call, an index, an operator, a comma). "(e.g. by email)"
# and "(urgent)" are not.
_CODE_ARGUMENT: Final = r"""(?:[^)\sa-z_$]|[a-z_$][\w$]*+\s*(?:\.\s*[a-z_$][\w$]|[(\[+,`'"]))"""
_JS_STRONG: Final = (
    (
        ("document",),
        re.compile(
            r"document(?:(?<=\bdocument)\s*\.\s*(?:cookie|domain|write|writeln|body|createelement"
            r"|queryselector\w*|getelementby\w+|documentelement|location|forms|images|links|head)\b"
            r"|\s*\.\s*cookie)"
        ),
    ),
    (("document",), re.compile(r"\(\s*document\s*\)\s*\[\s*['\"`]")),
    # With an argument, tagged, or called through Function.prototype: alert.call(null,1). Not
    # its definition (Python's "def prompt(text):", "function alert(msg) {"); after a space,
    # with an argument that reads as code: "confirm (by email)" and "a prompt (about cats)"
    # are prose.
    *(
        (
            (word,),
            re.compile(
                rf"{word}(?<=\b{word})(?<!def {word})(?<!function {word})"
                rf"(?:\(\s*[^)\s]|\s+\(\s*{_CODE_ARGUMENT}|\s*(?:`|\.\s*(?:call|apply)\s*[(`]))"
            ),
        )
        for word in ("alert", "prompt", "confirm")
    ),
    (
        ("appendchild", "insertadjacent", "innerhtml", "outerhtml"),
        re.compile(r"\.\s*(?:appendchild|insertadjacenthtml|innerhtml|outerhtml)\b"),
    ),
    (("navigator",), re.compile(r"navigator(?<=\bnavigator)\s*\.\s*\w+\s*\(")),
    (("-moz-binding",), re.compile(r"-moz-binding")),
    (("fromcharcode",), re.compile(r"fromcharcode(?<=\bfromcharcode)\b")),
    # eval called through Function.prototype (eval.call(top, code)), or of code that is
    # decoded (atob, unescape), read from the page (location, window.name) or assembled from
    # three or more pieces (eval(a+b+c)): the payload is hidden from filters.
    (
        ("eval",),
        re.compile(
            r"eval(?<=\beval)\s*(?:\.\s*(?:call|apply)\s*[(`]|\(\s*(?:"
            r"(?:atob|unescape|decodeuri(?:component)?)\s*\("
            r"|(?:window|top|self|parent|document)\s*\.\s*(?:location|name|referrer|url)\b"
            r"|location\b"
            r"|[a-z_$][\w$]*+(?:\s*\+\s*[a-z_$][\w$]*+){2,32}+\s*\)))"
        ),
    ),
    # The Function constructor called at once: Function(code)(), new Function(atob(x))().
    # A function expression has a body ("function(a){...}"), so "function(...)(" without a
    # brace in between can only be the constructor.
    (
        ("function",),
        re.compile(r"function(?<![\w.$]function)\s*\((?:[^(){};]|\([^(){};]*+\))*+\)\s*\("),
    ),
)
# Computed access to a global (top["al"+"ert"]): needs a "[", absent from most prose.
# Or any computed key (an expression, not a name) called at once: top[8680439..tostring(30)](1),
# window[atob(x)](1), self[a+b](1). Not on "this": this[name + "handler"](e) is common code.
# The key: name characters and single dots (possessive, so no backtracking), then what no name
# or dotted path has (an operator, a call, a quote, "..").
_COMPUTED_KEY_CALL: Final = (
    r"|(?:[\w$\s]|\.(?!\.)){0,64}+(?:[^\w$.\s\[\]]|\.\.)[^\[\]]{0,64}+\]\s*\("
)
_GLOBAL_INDEX: Final = tuple(
    (
        (word,),
        re.compile(
            rf"{word}(?<=\b{word})\s*\[\s*(?:['\"`/(\[]"
            + ("" if word == "this" else _COMPUTED_KEY_CALL)
            + ")"
        ),
    )
    for word in _GLOBALS
)
# A call passed by reference: (alert)(1), =alert; and ${alert}. Led by punctuation, so it runs
# only once a quick scan for the word before a ")", ",", ";" or "}" has found a candidate.
# Also a sink handed to a function that calls it: [1].find(alert), p.then(confirm),
# settimeout(alert, 0), f.call(null, alert).
_CALL_REFERENCE = re.compile(
    r"\((?:alert|prompt|confirm|eval)\)\s*\(|=\s*(?:alert|prompt|confirm|eval)\s*[,;]"
    r"|\$\{\s*(?:alert|prompt|confirm|eval)\s*\}"
    r"|(?:\.\s*(?:find(?:last)?(?:index)?|flatmap|map|filter|foreach|some|every|reduce(?:right)?"
    r"|sort|then|catch|finally|call|apply)|settimeout|setinterval|setimmediate"
    r"|requestanimationframe|queuemicrotask)\s*\(\s*(?:[\w$.]+\s*,\s*)?"
    r"(?:alert|prompt|confirm|eval)\s*[,)]"
)
_CALL_REFERENCE_HINT: Final = tuple(((word,), re.compile(rf"{word}\s*[),;}}]")) for word in _CALLS)
_COMMENTS = re.compile(r"/\*.{0,256}?\*/", re.DOTALL)
# Script calls that need a breakout (a quote, a tag) around them to be an attack. After a
# space, the argument reads as code ("Alert (high): disk full" is a message). Gated and led
# by their word like _JS_STRONG.
_JS_SINK: Final = (
    *(
        ((word,), re.compile(rf"{word}(?<=\b{word})(?:[(`]|\s+(?:`|\(\s*{_CODE_ARGUMENT}))"))
        for word in (*_CALLS, "settimeout", "setinterval", "fetch")
    ),
    (("document",), re.compile(r"document(?<=\bdocument)\s*\.\s*(?:cookie|domain|write|location)")),
    (("window",), re.compile(r"window(?<=\bwindow)\s*\.\s*(?:location|name|open)")),
    (("location",), re.compile(r"location(?<=\blocation)\s*(?:\.\s*href\s*)?=(?!=)")),
    (("fromcharcode",), re.compile(r"string(?<=\bstring)\s*\.\s*fromcharcode")),
    (("constructor",), re.compile(r"constructor(?<=\bconstructor)\s*\(")),
    (("innerhtml",), re.compile(r"\.\s*innerhtml\s*=")),
)


# An event handler assignment (literal prefix "on", so the search is a fast scan); what comes
# before it (a quote breaking out of an attribute, or the start) is checked by hand.
_HANDLER = re.compile(r"on[a-z]{3,40}\s*=")
# A quote or a statement end breaking out of a script string, then a call.
_BREAKOUT_SCRIPT = re.compile(r"""['"`]\s*(?:[;)+\-*,|&]|\]|\}|-->)\s*""")
_EVENT_NAME = re.compile(r"on[a-z]{3,40}")

# Whitespace and controls browsers ignore inside a URL scheme (java&#9;script:).
_SCHEME_NOISE = str.maketrans("", "", "\t\n\r\x0b\x0c \x00")
_SCHEME_NOISE_PAIRS: Final = tuple((char, "") for char in "\t\n\r\x0b\x0c \x00")


_CSS_LOAD = re.compile(r"url\s*\(|binding\s*:|[{}]|@import")


def _meta_active(head: str) -> bool:
    """<meta http-equiv=...> or a charset that smuggles markup (UTF-7 and friends)."""
    if "http-equiv" in head:
        return True
    charset = re.search(r"charset\s*=\s*[\"']?([a-z0-9_-]+)", head)
    return charset is not None and charset.group(1) not in (
        "utf-8",
        "utf8",
        "iso-8859-1",
        "us-ascii",
    )


# Long values with at most this many colons look for a scheme before each colon instead.
_FEW_COLONS: Final = 32


# A scheme ends in "script:", "data:" or "mocha:", noise allowed between its letters: before
# some colon is noise, or "pt", "ta" or "ha" (noise allowed). Led by the colon, so re scans for
# it at memchr speed; most colons of prose (a "that:" or "is:") fail it.
_NOISE_CLASS: Final = "\t\n\r\x0b\x0c \x00"
_SCHEME_COLON = re.compile(rf":(?:(?<=[{_NOISE_CLASS}]:)|(?<=[pth{_NOISE_CLASS}][ta]:))")


def _scheme(value: str) -> bool:
    if ":" not in value:
        return False
    if len(value) > _LONG and (
        _SCHEME_COLON.search(value) is None
        or (value.count(":") <= _FEW_COLONS and not _scheme_name(value))
    ):
        return False
    compact = replace_chars(value, _SCHEME_NOISE, _SCHEME_NOISE_PAIRS)
    if not contains_any(compact, ("script:", "data:", "mocha:")):
        return False
    return _SCRIPT_SCHEME.search(compact) is not None


def _scheme_name(value: str) -> bool:
    """Whether "script:", "data:" or "mocha:" occurs in *value* once noise is removed.

    Every one ends in the colon, which is not noise, so it is the compacted end of the text
    between two colons: the last few characters of each piece, not the whole value (compacting
    10,000 characters costs more than a few dozen short pieces).
    """
    for piece in value.split(":")[:-1]:
        tail = piece[-24:].translate(_SCHEME_NOISE)
        if len(tail) < 6 and len(piece) > 24:
            tail = piece.translate(_SCHEME_NOISE)  # mostly noise: compact it all
        if tail.endswith(("script", "data", "mocha")):
            return True
    return False


# Attributes worth parsing a tag for: handlers, active and style attributes, or any attribute
# when a script scheme occurs somewhere in the value.
_ACTIVE_ATTR_WORDS: Final = (
    "datasrc",
    "datafld",
    "dataformatas",
    "formaction",
    "xlink:href",
    "ev:",
    "style",
    "attributename",
)


def _active_attribute_word(low: str) -> bool:
    """contains_any(low, _ACTIVE_ATTR_WORDS), with fewer scans of a long value."""
    if len(low) <= _LONG:
        return contains_any(low, _ACTIVE_ATTR_WORDS)
    # (rfind: on long text "in" takes 5-8 us a substring, rfind 1-2; see contains_any)
    return (
        (low.rfind("data") >= 0 and contains_any(low, _ACTIVE_ATTR_WORDS[:3]))
        or low.rfind("formaction") >= 0
        or (":" in low and contains_any(low, ("xlink:href", "ev:")))
        or contains_any(low, _ACTIVE_ATTR_WORDS[6:])
    )


# Above this many "<" (or on a long value), _tag_reason without attributes first finds the tags
# whose name can give a reason at C speed.
_MANY_TAGS: Final = 16


# A _TAG whose name can give a reason without its attributes (the name checks of _tag_reason):
# a handler name with its "=", a whole name of the sets (not followed by more name
# characters), a namespace _tag_reason names, or a namespaced dangerous name (any namespace
# but the last is read past). Same start as _TAG, so _TAG matches there too; the lookahead
# fails a "<" not followed by a letter in one step.
def _reporting_tag(names: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        r"<[/!]?\s{0,2}(?=[a-z])(?:on[a-z]{3,40}=|(?:"
        + longest_first(names)
        + r")(?![a-z0-9:_-])|(?:svg|xsl|xi|html):|[a-z][a-z0-9:_-]*:(?:"
        + longest_first(_DANGEROUS_TAGS)
        + r")(?![a-z0-9:_-]))"
    )


_REPORTING_TAG = _reporting_tag(_DANGEROUS_TAGS | _FORM_TAGS | {"meta"})
# A <meta> reports only by "http-equiv" or a "charset" in it (_meta_active): without either
# in the text, its tags need no look ("<meta " x 1,666 looked at each, 2.3 ms).
_REPORTING_TAG_BUT_META = _reporting_tag(_DANGEROUS_TAGS | _FORM_TAGS)


def _tag_at(low: str, start: int) -> re.Match[str]:
    """The _TAG match at *start*, where _REPORTING_TAG matched."""
    match = _TAG.match(low, start)
    assert match is not None  # noqa: S101 - _REPORTING_TAG matches only where _TAG does
    return match


# What an attribute cannot give a reason without: a handler name and its "=", an active
# attribute's name, or a colon a script scheme can end in (see _SCHEME_COLON). Each led by
# its literal and searched apart: as one pattern, led by a class of eight characters, the
# engine scanned a character at a time (70 us over 10,000). The starts they find are those
# one pattern of all finds, and the starts within another's match, which lie in the same
# tag with the same text (no "<" or ">") before them.
_ATTRIBUTE_MARKERS: Final = (
    re.compile(r"on[a-z]{3,40}\s*="),
    *(re.compile(re.escape(word)) for word in _ACTIVE_ATTR_WORDS),
    _SCHEME_COLON,
)
# A style attribute gives a reason only by a match of _CSS_EXEC or _CSS_LOAD in its value,
# which is one in the text too (neither has an anchor or a look-around): without one, it
# marks nothing ("<a style=x " x 1,000 parsed every tag, 2.3 ms).
_MARKERS_BUT_STYLE: Final = tuple(
    pattern for pattern in _ATTRIBUTE_MARKERS if pattern.pattern != "style"
)


def _tags_with_markers(low: str) -> set[int]:
    """Where the tags start whose attributes (up to their ">" or the next "<") hold a marker.

    Only those can give a reason through their attributes: a value of a thousand ordinary
    tags and one handler somewhere parses one tag, not a thousand (2 ms). A marker that
    starts in a tag's name belongs to no attribute (the name runs on over its letters).
    """
    markers = _ATTRIBUTE_MARKERS
    if low.rfind("style") >= 0 and _CSS_EXEC.search(low) is None and _CSS_LOAD.search(low) is None:
        markers = _MARKERS_BUT_STYLE
    starts: set[int] = set()
    for at in sorted({m.start() for pattern in markers for m in pattern.finditer(low)}):
        opening = low.rfind("<", 0, at)
        if opening < 0 or opening in starts:
            continue
        tag = _TAG.match(low, opening)
        if tag is not None and tag.end() <= at and low.find(">", tag.end(), at) < 0:
            starts.add(opening)
    return starts


def _tag_reason(low: str, parse_attributes: bool) -> str | None:
    """Why a tag in *low* is an attack, or None.

    *parse_attributes* tells whether attributes can give a reason: a handler, an active
    attribute word or a script scheme occurs in *low*.
    """
    tags: Iterator[re.Match[str]] = _TAG.finditer(low)
    if len(low) > _LONG or low.count("<") > _MANY_TAGS:
        # Without attributes a tag gives a reason only through its name (the checks below), so
        # only the tags _REPORTING_TAG finds (at C speed) need the loop: thousands of ordinary
        # tags cost nothing. No match ends past a "<", so its next search misses no tag.
        # With attributes, so do the tags whose attributes hold a marker.
        reporting = _REPORTING_TAG
        if low.rfind("http-equiv") < 0 and low.rfind("charset") < 0:
            reporting = _REPORTING_TAG_BUT_META
        starts = [found.start() for found in reporting.finditer(low)]
        if parse_attributes:
            starts = sorted(_tags_with_markers(low).union(starts))
        tags = map(_tag_at, repeat(low), starts)
    for match in tags:
        name = match.group(1)
        local = name.rpartition(":")[2]  # <v:vmlframe>: the namespace does not change the tag
        if local in _DANGEROUS_TAGS or name.startswith(("svg:", "xsl:", "xi:", "html:")):
            return f"<{name}> element"
        if name in _FORM_TAGS and low[match.end() : match.end() + 1].isspace():
            return f"<{name}> element"
        start = match.end()
        if _EVENT_NAME.fullmatch(name) and low.startswith("=", start):
            return "event handler attribute"  # <x </onxxx=1: the parser reads an attribute
        if name != "meta" and not parse_attributes:
            continue
        # The tag's attributes run to its ">" or, unclosed, to the next "<": bodies never
        # overlap, so a value full of tags costs one pass.
        next_tag = low.find("<", start)
        if next_tag < 0:
            next_tag = len(low)
        end = low.find(">", start, next_tag)
        body = low[start : end if end >= 0 else next_tag]
        if name == "meta" and _meta_active(body):
            return "<meta> directive"
        if not parse_attributes:
            continue
        for attr in _ATTR.finditer(body):
            attr_name = attr.group(1)
            value = attr.group(2)
            if value is None:
                continue
            if _EVENT_NAME.fullmatch(attr_name):
                return "event handler attribute"
            if attr_name in _ACTIVE_ATTRS:
                return "active attribute"
            if (attr_name in _URL_ATTRS or ":" in attr_name) and _scheme(value):
                return "script URL in an attribute"
            if attr_name == "style" and (_CSS_EXEC.search(value) or _CSS_LOAD.search(value)):
                return "executable CSS"
            if attr_name == "attributename" and ("href" in value or "on" in value[:3]):
                return "attribute animation"
        if name in ("svg", "math", "animate", "set", "use", "a") and _scheme(body):
            return "script URL in an attribute"
    return None


# Non-alphanumeric JavaScript (JSFuck): strings built from ![] (false), !![] (true), +[] (0),
# [][[]] (undefined) and indexes like [+!+[]]. An atom is an empty array after "!", "+" or
# "[" ("+" may have become " " in form decoding: "! []", "[ []"), not called (a Markdown image
# "![](src)" is). Two atoms apart by nothing but the alphabet, one of them negated: prose and
# code have no "![]" next to another such "[]". Led by "[]", found by a literal scan; the gap
# is bounded, so every start costs a few steps.
_JSFUCK_GAP: Final = r"[\[\]()!+ ]{0,12}?"
_JSFUCK_NEGATED: Final = r"![+ ]?\[\](?!\()"
_JSFUCK = re.compile(
    r"\[\](?!\()(?:(?:(?<=!\[\])|(?<=![+ ]\[\]))"
    + _JSFUCK_GAP
    + r"(?:![+ ]?|\[ ?|\+)\[\](?!\()"
    + r"|(?:(?<=[+\[]\[\])|(?<=\[ \[\]))"
    + _JSFUCK_GAP
    + _JSFUCK_NEGATED
    + ")"
)


def _nonalphanumeric_script(low: str) -> bool:
    """Whether *low* holds JSFuck: two atoms of its alphabet next to each other, one ![]."""
    return "!" in low and "[" in low and _JSFUCK.search(low) is not None


# A call without parentheses through a tagged template of call or apply, which passes the
# template's ${...} values as arguments: reflect.apply.call`${f}${thisarg}${[args]}`,
# [].sort.call`${alert}`. Markdown (`fn.call`) has no "${" right after the backtick.
_TAGGED_CALL = re.compile(r"\.\s*(?:call|apply)\s*`\$\{")


# An attribute breakout that sets other attributes before the handler:
# " type=image src=x onerror=..., '/a="b"/onload=..., " autofocus/onfocus=...: from the handler
# back, attributes up to the quote. Read on the reversed text before the handler, anchored there
# (one attempt, possessive, no backtracking). Each attribute, after its separator, is one of:
# a bare value up to the "=" (its separator holds whitespace, and a "/" right after the value
# is part of it: "a=b/onload=x" is one attribute), "=" and a name; a quoted value, "=" and a
# name; a boolean attribute's name alone (only those: a bare word is prose, 'the "x" and
# onset=2'). Then the quote that broke out.
_BOOLEAN_ATTRIBUTES: Final = (
    "autofocus",
    "contenteditable",
    "draggable",
    "hidden",
    "open",
    "disabled",
    "readonly",
    "required",
    "multiple",
    "selected",
    "checked",
    "controls",
    "autoplay",
    "loop",
    "muted",
    "inert",
    "popover",
    "tabindex",
)
# Separators are those the quote rule above strips (" \t\n\r/"): a quote and separators right
# before a handler is that rule's, so pairs read back from a later handler that reach the quote
# through this one would have reached it from this one.
_ATTRIBUTE_NAME_REVERSED: Final = r"""[ \t\n\r]*+=[ \t\n\r]*+[^\s"'`<>/=]++"""
_REVERSED_ATTRIBUTES_TO_QUOTE = re.compile(
    r"""(?:(?:/*+[ \t\n\r]++)++[^\s"'`<>=]++"""
    + _ATTRIBUTE_NAME_REVERSED
    + r"""|[ \t\n\r/]++(?:"[^"]*+"|'[^']*+'|`[^`]*+`)"""
    + _ATTRIBUTE_NAME_REVERSED
    + r"|[ \t\n\r/]++(?:"
    + longest_first(name[::-1] for name in _BOOLEAN_ATTRIBUTES)
    + r""")(?=[\s/"'`]))++[ \t\n\r/]*+["'`]"""
)
# How far before a handler the pairs are looked for, and what separates attributes.
_BREAKOUT_WINDOW: Final = 256
_ATTRIBUTE_SEPARATORS: Final = " \t\n\r/"


# A value is only worth tokenizing when it could hold markup or a script scheme.
_PREFILTER = re.compile(r"[<>\"'`\[]|script|expression|on[a-z]{3,40}\s*=|\(|data:|document|binding")
_PREFILTER_WORDS: Final = ("script", "expression", "data:", "document", "binding")


def _worth_checking(low: str) -> bool:
    """Whether _PREFILTER matches in *low*.

    The pattern has no literal prefix, so re tries it at every position: on a long value the
    characters (memchr), the words and the handler (led by "on") are faster one by one.
    """
    if _PREFILTER.search(low, 0, _LONG) is not None:
        return True  # most values match early (and no short one gets further)
    return len(low) > _LONG and (
        contains_any(low, "<>\"'`[(")
        or contains_any(low, _PREFILTER_WORDS)
        or _HANDLER.search(low) is not None
    )


# Words that every script payload below needs; prose without them skips the JS patterns.
# The rules' gate words are among them.
_JS_WORDS: Final = (
    "alert",
    "prompt",
    "confirm",
    "eval",
    "document",
    "window",
    "location",
    "top",
    "self",
    "parent",
    "frames",
    "this",
    "fromcharcode",
    "navigator",
    "-moz-binding",
    "innerhtml",
    "outerhtml",
    "appendchild",
    "insertadjacent",
    "settimeout",
    "setinterval",
    "constructor",
    "fetch",
    "style",
    "globalthis",
    "function",
)
_JS_CHARS: Final = "".join(sorted(set("".join(_JS_WORDS))))
_JS_WORD_CHARS: Final = {word: frozenset(word) for word in _JS_WORDS}


class _WordsIn:
    """The words of a long text, each looked up (one full scan) the first time a rule asks.

    Rules whose punctuation is absent never ask for their words. A scan is slow where the text
    repeats the word's letters ("aaaa..."), but a one-character test is a memchr, and a word
    with a character the text lacks cannot occur.
    """

    __slots__ = ("_chars", "_known", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._chars: frozenset[str] | None = None
        self._known: dict[str, bool] = {}

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        known = self._known.get(word)
        if known is None:
            if self._chars is None:
                self._chars = frozenset([char for char in _JS_CHARS if char in self._text])
            chars = _JS_WORD_CHARS.get(word)
            known = (chars is None or chars <= self._chars) and word in self._text
            self._known[word] = known
        return known


def _js_words_in(text: str) -> Container[str]:
    """What to test the gate words of the script rules against.

    A short text is its own container: a few substring tests cost less than any bookkeeping.
    """
    return text if len(text) <= _WORDS_IN_LONG else _WordsIn(text)


# Below this, 25 substring tests of the text cost less than the remembering (a Python call
# a word): a 630-character form value took 12 us instead of 4.
_WORDS_IN_LONG: Final = 2048


def _matches_any(
    rules: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...], text: str, found: Container[str]
) -> bool:
    """Whether a rule whose gate words are among *found* (the words in *text*) matches."""
    for gates, pattern in rules:
        for gate in gates:
            if gate in found:
                if pattern.search(text) is not None:
                    return True
                break
    return False


def _script_call(js: str, found: Container[str]) -> bool:
    """Whether *js* (with *found*, its words of _JS_WORDS) holds a _JS_STRONG call."""
    if _matches_any(_JS_STRONG, js, found):
        return True
    if "[" in js and _matches_any(_GLOBAL_INDEX, js, found):
        return True
    # Last: a hint is not a match, so a failed _CALL_REFERENCE settles the rest.
    for gates, hint in _CALL_REFERENCE_HINT:
        if gates[0] in found and hint.search(js) is not None:
            return _CALL_REFERENCE.search(js) is not None
    return False


def xss_reason(text: str) -> str | None:
    """Why *text* (decoded and lower-cased) is a cross-site scripting payload, or None."""
    low = text  # lower-cased by the engine
    if "\x00" in low:
        low = low.replace("\x00", "")  # <scr\0ipt>: browsers skip NUL inside markup
    # &Tab; and &NewLine; lower-cased (the decoder knows only their real case): the whitespace
    # they stand for, which a URL scheme skips (ja&Tab;vascript:). A scheme they split
    # (v&NewLine;bscript:) needs no other character and holds no "script": both checks pass.
    # Browsers read entity names by case, so these spell an attempt, not a working scheme: a
    # long value (two more scans) is not worth the look.
    spaced = len(low) <= _WORDS_IN_LONG and "&" in low and ("&tab;" in low or "&newline;" in low)
    if spaced:
        low = low.replace("&tab;", "\t").replace("&newline;", "\n")
    elif not _worth_checking(low):
        return None
    scheme: bool | None = None  # _scheme(low), computed at most once
    if "<" in low:
        parse_attributes = _HANDLER.search(low) is not None or _active_attribute_word(low)
        if not parse_attributes:
            scheme = parse_attributes = _scheme(low)
        reason = _tag_reason(low, parse_attributes)
        if reason:
            return reason
    if (
        ":" in low
        and scheme is not False  # known: no need to look for the words
        and (spaced or contains_any(low, ("script", "data", "mocha")))
        and (_scheme(low) if scheme is None else scheme)
        and (_looks_like_script_url(low))
    ):
        return "script URL"
    if "=" in low and low.rfind("on") >= 0:  # rfind: faster than "in" on long text
        floor = 0
        for handler in _HANDLER.finditer(low):
            start = handler.start()
            before = low[max(0, start - 8) : start].rstrip(" \t\n\r/")
            at_start = start == 0
            quoted = not before or before[-1] in "'\"`"
            if at_start or (quoted and not low[start - 1].isalnum()):
                return "event handler after a quote"
            if low[start - 1] in _ATTRIBUTE_SEPARATORS:
                # Attributes between the quote and the handler. The pairs read back from
                # here stop at the handler before (whose pairs reached no quote): no text
                # is read twice.
                bound = max(floor, start - _BREAKOUT_WINDOW) - 1
                window = low[start - 1 : bound : -1] if bound >= 0 else low[start - 1 :: -1]
                if _REVERSED_ATTRIBUTES_TO_QUOTE.match(window) is not None:
                    return "event handler after a quote"
                floor = start
    if "<" in low and _ACTIVE_MARKUP.search(low):
        return "active markup"
    if _nonalphanumeric_script(low):
        return "non-alphanumeric script"
    if (
        "$" in low  # one-character tests first: a memchr, where "${" costs a scan
        and "l" in low  # (in "call" and "apply")
        and "${" in low
        and ("call" in low or "apply" in low)
        and _TAGGED_CALL.search(low) is not None  # led by ".": tried at every dot
    ):
        return "script call"
    # Without a word of _JS_WORDS no rule below can match. On a long value the words found
    # are remembered: the rules' gates below ask for the same words.
    found = _js_words_in(low)
    if not (
        contains_any(low, _JS_WORDS) if found is low else any(map(found.__contains__, _JS_WORDS))
    ):
        return None
    if _matches_any(_JS_SINK, low, found):
        breakout = _BREAKOUT_SCRIPT.search(low)
        if breakout is not None or low.lstrip().startswith(("alert", "prompt", "confirm")):
            return "script call"
        if "<" in low or ">" in low:
            return "script call"
    if "style" in found and ("<" in low or "=" in low) and _CSS_EXEC.search(low):
        return "executable CSS"
    # (_ACTIVE_MARKUP was checked above.) Removing comments can join a word: the gates of the
    # strong rules are the words of what they search.
    js = _COMMENTS.sub("", low) if low.rfind("/*") >= 0 else low
    if _script_call(js, found if js is low else _js_words_in(js)):
        return "script call"
    return None


def _looks_like_script_url(low: str) -> bool:
    """A script scheme at the start of the value, or followed by code rather than prose."""
    compact = replace_chars(low, _SCHEME_NOISE, _SCHEME_NOISE_PAIRS)
    match = _SCRIPT_SCHEME.search(compact)
    if match is None:
        return False
    if match.start() == 0 or compact[match.start() - 1] in "\"'=(`>":
        return True
    return _SCRIPT_CODE.search(low, max(0, match.start() - 8)) is not None


# After a script scheme in running text: code (a call, an assignment), not a phrase.
_SCRIPT_CODE = re.compile(r"script:[\t\n\r]*(?://|[\w.$\[\]'\"]{1,64}\s*[(`=])")
