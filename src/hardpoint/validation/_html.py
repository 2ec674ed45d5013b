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
from typing import Final

from ._text import contains_any, matches_gated, replace_chars

__all__ = ["xss_reason"]

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
# access to globals, alert-style calls with an argument, tagged templates of sinks.
_CALLS = ("alert", "prompt", "confirm", "eval")
_GLOBALS = ("top", "window", "self", "parent", "frames", "globalthis", "this")
_JS_STRONG: Final = (
    (
        ("document",),
        re.compile(
            r"\bdocument\s*\.\s*(?:cookie|domain|write|writeln|body|createelement|queryselector\w*"
            r"|getelementby\w+|documentelement|location|forms|images|links|head)\b"
            r"|document\s*\.\s*cookie|\(\s*document\s*\)\s*\[\s*['\"`]"
        ),
    ),
    (
        _GLOBALS,
        re.compile(r"\b(?:top|window|self|parent|frames|globalthis|this)\s*\[\s*['\"`/(\[]"),
    ),
    (
        _CALLS,
        re.compile(
            r"\b(?:alert|prompt|confirm)\s*(?:\(\s*[^)\s]|`)|\((?:alert|prompt|confirm|eval)\)\s*\("
            r"|=\s*(?:alert|prompt|confirm|eval)\s*[,;]|\$\{\s*(?:alert|prompt|confirm|eval)\s*\}"
        ),
    ),
    (
        ("appendchild", "insertadjacenthtml", "innerhtml", "outerhtml"),
        re.compile(r"\.\s*(?:appendchild|insertadjacenthtml|innerhtml|outerhtml)\b"),
    ),
    (("navigator",), re.compile(r"\bnavigator\s*\.\s*\w+\s*\(")),
    (("-moz-binding", "fromcharcode"), re.compile(r"-moz-binding|\bfromcharcode\b")),
)
_COMMENTS = re.compile(r"/\*.{0,256}?\*/", re.DOTALL)
# Script calls that need a breakout (a quote, a tag) around them to be an attack.
_JS_SINK: Final = (
    (
        (*_CALLS, "settimeout", "setinterval", "fetch"),
        re.compile(r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|fetch)\s*(?:\(|`)"),
    ),
    (("document",), re.compile(r"\bdocument\s*\.\s*(?:cookie|domain|write|location)")),
    (("window",), re.compile(r"\bwindow\s*\.\s*(?:location|name|open)")),
    (("location",), re.compile(r"\blocation\s*(?:\.\s*href\s*)?=(?!=)")),
    (
        ("fromcharcode", "constructor", "innerhtml"),
        re.compile(r"\bstring\s*\.\s*fromcharcode|\bconstructor\s*\(|\.\s*innerhtml\s*="),
    ),
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


def _scheme(value: str) -> bool:
    if ":" not in value:
        return False
    compact = replace_chars(value, _SCHEME_NOISE, _SCHEME_NOISE_PAIRS)
    if "script:" not in compact and "data:" not in compact and "mocha:" not in compact:
        return False
    return _SCRIPT_SCHEME.search(compact) is not None


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


def _attributes_worth_parsing(low: str) -> bool:
    return _HANDLER.search(low) is not None or contains_any(low, _ACTIVE_ATTR_WORDS) or _scheme(low)


def _tag_reason(low: str) -> str | None:
    parse_attributes = _attributes_worth_parsing(low)
    for match in _TAG.finditer(low):
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


# A value is only worth tokenizing when it could hold markup or a script scheme.
_PREFILTER = re.compile(r"[<>\"'`\[]|script|expression|on[a-z]{3,40}\s*=|\(|data:|document|binding")


# Words that every script payload below needs; prose without them skips the JS patterns.
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
)


def xss_reason(text: str) -> str | None:
    """Why *text* (decoded and lower-cased) is a cross-site scripting payload, or None."""
    low = text  # lower-cased by the engine
    if "\x00" in low:
        low = low.replace("\x00", "")  # <scr\0ipt>: browsers skip NUL inside markup
    if _PREFILTER.search(low) is None:
        return None
    if "<" in low:
        reason = _tag_reason(low)
        if reason:
            return reason
    if (
        ":" in low
        and ("script" in low or "data" in low or "mocha" in low)
        and _scheme(low)
        and (_looks_like_script_url(low))
    ):
        return "script URL"
    if "=" in low and "on" in low:
        for handler in _HANDLER.finditer(low):
            before = low[max(0, handler.start() - 8) : handler.start()].rstrip(" \t\n\r/")
            at_start = handler.start() == 0
            quoted = not before or before[-1] in "'\"`"
            if at_start or (quoted and not low[handler.start() - 1].isalnum()):
                return "event handler after a quote"
    if "<" in low and _ACTIVE_MARKUP.search(low):
        return "active markup"
    if not contains_any(low, _JS_WORDS):
        return None
    if matches_gated(_JS_SINK, low) is not None:
        breakout = _BREAKOUT_SCRIPT.search(low)
        if breakout is not None or low.lstrip().startswith(("alert", "prompt", "confirm")):
            return "script call"
        if "<" in low or ">" in low:
            return "script call"
    if "style" in low and _CSS_EXEC.search(low) and ("<" in low or "=" in low):
        return "executable CSS"
    if "<" in low and _ACTIVE_MARKUP.search(low):
        return "active markup"
    js = _COMMENTS.sub("", low) if "/*" in low else low
    if matches_gated(_JS_STRONG, js) is not None:
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
