"""Keep fetched secret values out of log output, whoever logs them."""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from typing import Final

__all__ = ["REDACTED", "RedactingFilter", "redact_secrets", "register_value", "scrub"]

REDACTED: Final = "**********"
# Shorter values would turn ordinary words into stars everywhere; such values are still kept
# out of hardpoint's own messages, which never contain values at all.
MIN_LENGTH: Final = 6


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH or value in self.values:
            return
        with self.lock:
            self.values.add(value)
            # Longest first, so a value containing another is replaced whole.
            ordered = sorted(self.values, key=len, reverse=True)
            self.pattern = re.compile("|".join(re.escape(v) for v in ordered))


_REGISTRY = _Registry()


def register_value(value: str) -> None:
    """Remember *value* so that `redact_secrets` scrubs it (called for every fetched secret).

    The forms a value takes when others log it are registered too: JSON-escaped (inside a
    logged JSON body), and escaped again inside a ``bytes`` repr (botocore logs response
    bodies as ``%r`` of the raw bytes).
    """
    for form in _forms(value):
        _REGISTRY.add(form)


def _forms(value: str) -> set[str]:
    forms = {value}
    for escaped in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        forms.add(escaped)
        forms.add(repr(escaped.encode("utf-8", "surrogatepass"))[2:-1])
    forms.add(repr(value.encode("utf-8", "surrogatepass"))[2:-1])
    forms.add(repr(value)[1:-1])
    return forms


def scrub(text: str) -> str:
    """Return *text* with every registered secret value replaced by ``**********``."""
    pattern = _REGISTRY.pattern
    return text if pattern is None else pattern.sub(REDACTED, text)


def _scrub_record(record: logging.LogRecord) -> None:
    if _REGISTRY.pattern is None:
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it for the handler to report
        message = str(record.msg)
    cleaned = scrub(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = scrub(text.rstrip("\n"))
        record.exc_info = None  # the formatter uses exc_text; the raw exception may hold values
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secret values from messages, arguments and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub *record* in place; never drops it."""
        _scrub_record(record)
        return True


_FACTORY_LOCK = threading.Lock()
_FACTORY_INSTALLED = False


def redact_secrets(logger: logging.Logger | None = None) -> RedactingFilter:
    """Scrub every secret value fetched through hardpoint from log output.

    With no *logger*, every log record created in the process is scrubbed when it is created
    (through the log record factory), so third-party libraries' output is covered too:
    botocore logs response bodies, secret values included, at DEBUG. With a *logger*, a
    `RedactingFilter` is attached to it and to its handlers instead.

    Values shorter than 6 characters are not scrubbed from others' logs (they would turn
    common words into stars); hardpoint's own messages never contain values at all.

    Returns:
        The filter (attached, or usable on your own handlers).
    """
    global _FACTORY_INSTALLED
    filt = RedactingFilter()
    if logger is not None:
        logger.addFilter(filt)
        for handler in logger.handlers:
            handler.addFilter(filt)
        return filt
    with _FACTORY_LOCK:
        if not _FACTORY_INSTALLED:
            previous = logging.getLogRecordFactory()

            def factory(*args: object, **kwargs: object) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _scrub_record(record)
                return record

            logging.setLogRecordFactory(factory)
            _FACTORY_INSTALLED = True
    return filt
