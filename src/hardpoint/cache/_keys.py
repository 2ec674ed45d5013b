"""Cache keys from function arguments: canonical binding, stable encoding, a short hash.

Pure functions, no I/O. The rules:

- Arguments are bound to the signature with defaults applied, so ``f(1)``, ``f(x=1)`` and
  ``f(1, y=<default>)`` give one key, and keyword order never matters.
- ``self`` / ``cls`` are left out unless the object defines ``__cache_key__()``.
- Values are encoded by type into a canonical form whose ``repr`` is stable across processes
  and Python runs (no ``hash()``, which is salted per process), then hashed with BLAKE2b.
- An argument with no stable form (its ``repr`` shows a memory address) raises
  `UnstableKeyError` at the first call instead of missing the cache silently forever.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import inspect
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from hardpoint.errors import ConfigurationError, UnstableKeyError

__all__ = ["KeyBuilder", "canonical", "digest"]

_SIMPLE: Final = frozenset({str, int, float, bool, type(None), bytes})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]{4,}")
_SKIPPED_FIRST: Final = frozenset({"self", "cls"})


def canonical(value: object, path: str = "argument") -> object:
    """Return a form of *value* whose ``repr`` is equal for equal values in any process.

    Args:
        value: An argument of a cached function.
        path: Where *value* sits, for the error message.

    Raises:
        UnstableKeyError: *value* (or something inside it) has no stable form.
    """
    cls = type(value)
    if cls in _SIMPLE:
        return value
    if isinstance(value, (tuple, list)) and (cls is tuple or cls is list):
        tag = "t" if cls is tuple else "l"
        return (tag, *(canonical(v, f"{path}[{i}]") for i, v in enumerate(value)))
    if isinstance(value, Mapping):
        items = [
            (canonical(k, f"{path} key"), canonical(v, f"{path}[{k!r}]")) for k, v in value.items()
        ]
        # Keys of mixed types cannot be compared; their canonical reprs can.
        items.sort(key=repr)
        return ("d", *items)
    if isinstance(value, (set, frozenset)):
        return ("s", *sorted(repr(canonical(v, f"{path} item")) for v in value))
    if isinstance(value, enum.Enum):
        return (_type_name(cls), canonical(value.value, path))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return (_type_name(cls), value.isoformat())
    if isinstance(value, (uuid.UUID, Decimal, dt.timedelta)):
        return (_type_name(cls), str(value))
    custom = getattr(value, "__cache_key__", None)
    if custom is not None and callable(custom):
        return (_type_name(cls), canonical(custom(), f"{path}.__cache_key__()"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            _type_name(cls),
            *(
                (f.name, canonical(getattr(value, f.name), f"{path}.{f.name}"))
                for f in dataclasses.fields(value)
                if f.compare
            ),
        )
    dump = getattr(value, "model_dump", None)
    if dump is not None and hasattr(cls, "__pydantic_fields__"):
        return (_type_name(cls), canonical(dump(), path))
    if isinstance(value, (int, float, str, bytes)):  # subclasses of the simple types
        return (_type_name(cls), canonical(cls.__mro__[-2](value), path))
    return (_type_name(cls), _stable_repr(value, path))


def _stable_repr(value: object, path: str) -> str:
    cls = type(value)
    if cls.__repr__ is object.__repr__ or callable(value) or isinstance(value, type):
        raise _unstable(value, path)
    text = repr(value)
    if _ADDRESS.search(text):
        raise _unstable(value, path)
    return text


def _unstable(value: object, path: str) -> UnstableKeyError:
    return UnstableKeyError(
        f"{path} of type {_type_name(type(value))} has no stable cache-key form (its repr "
        "holds a memory address); define __cache_key__() on it, pass key= to @cached, "
        "or list the argument in exclude=",
        field=path,
    )


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def digest(material: object) -> str:
    """Hash the ``repr`` of a canonical form into 32 hex characters (BLAKE2b-128)."""
    return _hash(repr(material))


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


_MEMO_SIZE: Final = 4096
_MEMO_MAX_MATERIAL: Final = 200


KeyFunc = Callable[..., str]


class KeyBuilder:
    """Turns the arguments of one function call into its cache key ``"<prefix>:<part>"``.

    Args:
        func: The undecorated function.
        prefix: Key prefix, for example ``"api:user"``; may not be empty.
        key: A ``str.format`` template over argument names (``"{user_id}"``), or a callable
            taking the function's arguments and returning the key part; by default a hash
            of all arguments.
        exclude: Argument names that must not affect the key.

    Raises:
        ConfigurationError: The prefix is empty, *exclude* names an unknown argument, or the
            template names one.
    """

    __slots__ = (
        "_all_from",
        "_exclude",
        "_included",
        "_key",
        "_memo",
        "_names",
        "_nparams",
        "_plain",
        "_prefix",
        "_signature",
        "_simple",
        "_skip_first",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        prefix: str,
        key: str | KeyFunc | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        if not prefix:
            raise ConfigurationError("the cache prefix must be a non-empty str", field="prefix")
        self._prefix = prefix
        self._memo: dict[str, str] = {}
        self._signature = inspect.signature(func)
        params = list(self._signature.parameters.values())
        self._names = tuple(p.name for p in params)
        self._nparams = len(params)
        self._exclude = frozenset(exclude)
        unknown = self._exclude - set(self._names)
        if unknown:
            raise ConfigurationError(
                f"exclude names arguments {sorted(unknown)} that {func.__qualname__} does not have",
                field="exclude",
            )
        self._skip_first = bool(params) and params[0].name in _SKIPPED_FIRST
        if isinstance(key, str):
            self._check_template(key, func)
        elif key is not None and not callable(key):
            raise ConfigurationError("key must be a str template or a callable", field="key")
        self._key = key
        kinds = {p.kind for p in params}
        self._simple = kinds <= {
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        }
        # The (position, name) of every parameter that counts for the key.
        self._included = tuple(
            (i, name)
            for i, name in enumerate(self._names)
            if name not in self._exclude and not (i == 0 and self._skip_first)
        )
        # When every parameter counts (after a skipped self), keys use a plain slice.
        counted = [i for i, _name in self._included]
        first_counted = 1 if self._skip_first else 0
        self._all_from: int | None = (
            first_counted if counted == list(range(first_counted, len(params))) else None
        )
        # Keys of recent calls whose arguments are all exact ints and strs, looked up by the
        # argument tuple itself (no repr). Only those types: 1, 1.0 and True are equal
        # dict keys but must give different cache keys, while an int never equals a str.
        self._plain: dict[tuple[Any, ...], str] | None = (
            {} if key is None and self._simple and self._all_from == 0 else None
        )

    def _check_template(self, template: str, func: Callable[..., Any]) -> None:
        import string

        for _text, field_name, _spec, _conv in string.Formatter().parse(template):
            if field_name is None:
                continue
            root = re.split(r"[.\[]", field_name, maxsplit=1)[0]
            if root not in self._names:
                raise ConfigurationError(
                    f"key template {template!r} names {root!r}, which is not an argument of "
                    f"{func.__qualname__}",
                    field="key",
                )

    @property
    def prefix(self) -> str:
        """The key prefix."""
        return self._prefix

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Bind a call's arguments by name with defaults applied.

        Raises:
            TypeError: The arguments do not fit the signature (as calling the function would).
        """
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def build(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        """Return the cache key for a call, without namespace.

        Raises:
            UnstableKeyError: An argument has no stable key form.
            TypeError: The arguments do not fit the signature.
        """
        plain = self._plain
        if plain is not None and not kwargs:
            for value in args:
                kind = type(value)
                if kind is not int and kind is not str:
                    break
            else:
                found = plain.get(args)
                if found is not None:
                    return found
                if len(args) == self._nparams and len(repr(args)) <= _MEMO_MAX_MATERIAL:
                    found = self._build(args, kwargs)
                    if len(plain) >= _MEMO_SIZE:
                        plain.clear()
                    plain[args] = found
                    return found
        return self._build(args, kwargs)

    def _build(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        key = self._key
        if key is not None:
            if isinstance(key, str):
                part = key.format_map(self.bind(args, kwargs))
            else:
                part = key(*args, **kwargs)
                if not isinstance(part, str):
                    raise ConfigurationError(
                        f"the key callable returned {type(part).__name__}, not str", field="key"
                    )
            return f"{self._prefix}:{part}"
        # Both paths produce the values of the included parameters in signature order, so a
        # positional call and its keyword twin share a key.
        if self._simple and not kwargs and len(args) == self._nparams:
            if self._all_from is not None:  # the common case: a slice, no generator
                values: tuple[Any, ...] = args[self._all_from :]
            else:
                values = tuple(args[i] for i, _name in self._included)
            first = args[0] if self._skip_first else None
        else:
            arguments = self.bind(args, kwargs)
            values = tuple(arguments[name] for _i, name in self._included)
            first = arguments[self._names[0]] if self._skip_first else None
        for value in values:
            if type(value) not in _SIMPLE:
                values = tuple(
                    canonical(v, name) for v, (_i, name) in zip(values, self._included, strict=True)
                )
                break
        if first is not None and hasattr(first, "__cache_key__"):
            values = (canonical(first, self._names[0]), *values)
        material = repr(values)
        key = self._memo.get(material)
        if key is None:
            key = f"{self._prefix}:{_hash(material)}"
            # Hashing costs more than the rest of a memory hit: remember the keys of recent
            # short argument lists (bounded in count and size; cleared when full).
            if len(material) <= _MEMO_MAX_MATERIAL:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()
                self._memo[material] = key
        return key
