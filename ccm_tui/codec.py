"""One JSON codec for every dataclass that crosses a process boundary.

Events (`/_ccm/events`) and the monitor's snapshot (`/_ccm/state`, attach's first frame)
are dataclasses of plain values, enums, tuples, lists, deques, dicts (keys plain or enums)
and nested dataclasses. `encoder(cls)` and `decoder(cls)` read a class's type hints once
and compile a straight-line function for it, the way `dataclasses` writes `__init__`: a
full snapshot then costs what a hand-written encoder costs, and no second copy of the
field list can fall out of step with the class.

Decoding is forward compatible: fields a newer writer added are ignored, fields it left
out take their defaults; a missing field without a default is a KeyError, an unknown enum
value a ValueError, so a reader can skip what it cannot read.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
import types
import typing
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Convert = Callable[[Any], Any]

WIRE = "ccm_tui.codec.wire"


def wire(*path: str) -> dict[str, tuple[str, ...]]:
    """Field metadata: the field lives at this path on the wire (one level of nesting).

    `field(metadata=wire("breaker", "state"))` puts the value at `{"breaker": {"state": …}}`.
    """
    if not 1 <= len(path) <= 2:
        raise ValueError(f"a wire path has one or two names, not {path}")
    return {WIRE: path}


_TAGS: dict[type, str] = {}
_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}
_DECODERS: dict[type, Callable[[Mapping[str, Any]], Any]] = {}


def encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The compiled function that turns an instance of `cls` into plain JSON values."""
    found = _ENCODERS.get(cls)
    if found is None:
        found = _ENCODERS[cls] = _compile_encoder(cls)
    return found


def decoder(cls: type) -> Callable[[Mapping[str, Any]], Any]:
    """The compiled function that rebuilds an instance of `cls` from `encoder(cls)`'s output."""
    found = _DECODERS.get(cls)
    if found is None:
        found = _DECODERS[cls] = _compile_decoder(cls)
    return found


class TaggedUnion:
    """Dataclasses told apart on the wire by a `"type"` field holding the class name.

    Members carry their tag wherever they are encoded (an event inside a snapshot too), so
    any reader can tell what a dict is.
    """

    def __init__(self, classes: Iterable[type], what: str = "type") -> None:
        self.what = what
        self.types: dict[str, type] = {}
        for cls in classes:
            if cls in _ENCODERS:
                raise RuntimeError(f"{cls.__name__} was encoded before it joined a union")
            _TAGS[cls] = cls.__name__
            self.types[cls.__name__] = cls
        self._decoders = {name: decoder(cls) for name, cls in self.types.items()}

    def encode(self, value: Any) -> dict[str, Any]:
        return encoder(type(value))(value)

    def decode(self, data: Mapping[str, Any]) -> Any:
        """The member named by `data["type"]`; ValueError for a type this version lacks."""
        decode = self._decoders.get(str(data.get("type")))
        if decode is None:
            raise ValueError(f"unknown {self.what} {data.get('type')!r}")
        return decode(data)


# -- converters for one value ----------------------------------------------------------------
#
# A converter pair (encode, decode) for a type hint; None means the value is already plain
# and is copied through untouched, so the compiled functions can inline it.


def _optional(hint: Any) -> tuple[Any, bool]:
    """`X` and whether the hint was `X | None`."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint, False
    options = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(options) != 1 or len(typing.get_args(hint)) != 2:
        raise TypeError(f"the codec reads `X | None` unions only, not {hint}")
    return options[0], True


def _converters(hint: Any) -> tuple[Convert | None, Convert | None]:
    hint, optional = _optional(hint)
    if optional:
        encode, decode = _converters(hint)
        return _or_none(encode), _or_none(decode)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (str, int, bool, type(None), Any):
        return None, None
    if hint is float:
        return None, float  # JSON writes 120.0 as 120
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_value, hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return encoder(hint), decoder(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        encode, decode = _converters(args[0])
        return _sequence(list, encode), _sequence(tuple, decode)
    if origin is tuple and all(_converters(a) == (None, None) for a in args):
        return list, tuple  # a fixed-length tuple of plain values, as a header pair
    if origin in (list, deque):
        encode, decode = _converters(args[0])
        return _sequence(list, encode), _sequence(origin, decode)
    if origin is dict:
        key_encode, key_decode = _converters(args[0])
        value_encode, value_decode = _converters(args[1])
        return _mapping(key_encode, value_encode), _mapping(key_decode, value_decode)
    raise TypeError(f"the codec has no JSON form for {hint!r}")


_enum_value = operator.attrgetter("value")


def _or_none(convert: Convert | None) -> Convert | None:
    if convert is None:
        return None
    return lambda value: None if value is None else convert(value)


def _sequence(make: Callable[[Iterable[Any]], Any], convert: Convert | None) -> Convert:
    # A container is always copied: a snapshot must not alias the live state it pictures.
    if convert is None:
        return make

    def each(values: Iterable[Any]) -> Any:
        return make(map(convert, values))

    each.inline = (make, convert)  # type: ignore[attr-defined]  # see _converted
    return each


def _mapping(key: Convert | None, value: Convert | None) -> Convert:
    if key is None and value is None:
        return dict
    if value is None:
        return lambda items: {key(k): v for k, v in items.items()}  # type: ignore[misc]
    if key is None:
        return lambda items: {k: value(v) for k, v in items.items()}
    return lambda items: {key(k): value(v) for k, v in items.items()}


# -- compiling one class ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    name: str
    path: tuple[str, ...]
    optional: bool  # `X | None`: None passes through without a converter call
    encode: Convert | None
    decode: Convert | None
    default: Any
    default_factory: Any


def _plan(cls: type) -> list[_Field]:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"the codec compiles dataclasses, not {cls!r}")
    hints = typing.get_type_hints(cls)
    plan = []
    for f in dataclasses.fields(cls):
        if not f.init:
            raise TypeError(f"{cls.__name__}.{f.name} is not an __init__ field")
        hint, optional = _optional(hints[f.name])
        encode, decode = _converters(hint)
        path = f.metadata.get(WIRE, (f.name,))
        plan.append(_Field(f.name, path, optional, encode, decode, f.default, f.default_factory))
    return plan


def _converted(
    convert: Convert | None, optional: bool, value: str, name: str, namespace: dict[str, Any]
) -> str:
    """Source for `value` passed through `convert` (None: as it is), bound as `name`.

    A converter over each item of a sequence is written out in place, a call saved per value.
    """
    if convert is None:
        return value
    inline = getattr(convert, "inline", None)
    if inline is not None:
        namespace[f"{name}_make"], namespace[f"{name}_each"] = inline
        call = f"{name}_make(map({name}_each, %s))"
    else:
        namespace[name] = convert
        call = f"{name}(%s)"
    if optional:
        return f"(None if (_v := {value}) is None else {call % '_v'})"
    return call % value


def _encoded(f: _Field, index: int, namespace: dict[str, Any]) -> str:
    """Source for field `f` of `o` in plain values."""
    value = f"o.{f.name}"
    if f.encode is None:
        return value
    if f.encode is _enum_value:  # inlined: no call per member
        return (
            f"(None if (_v := {value}) is None else _v.value)" if f.optional else f"{value}.value"
        )
    return _converted(f.encode, f.optional, value, f"_e{index}", namespace)


def _compile(source: str, namespace: dict[str, Any], name: str) -> Any:
    exec(compile(source, f"<codec {name}>", "exec"), namespace)  # our own source, built above
    return namespace[name]


def _compile_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    namespace: dict[str, Any] = {}
    top: dict[str, str | dict[str, str]] = {}
    tag = _TAGS.get(cls)
    if tag is not None:
        top["type"] = repr(tag)
    for i, f in enumerate(_plan(cls)):
        value = _encoded(f, i, namespace)
        if len(f.path) == 1:
            top[f.path[0]] = value
        else:
            group = top.setdefault(f.path[0], {})
            assert isinstance(group, dict), f"{cls.__name__}: {f.path[0]} is a field and a group"
            group[f.path[1]] = value

    def literal(entries: dict[str, Any]) -> str:
        return (
            "{"
            + ", ".join(
                f"{k!r}: {literal(v) if isinstance(v, dict) else v}" for k, v in entries.items()
            )
            + "}"
        )

    source = f"def encode(o):\n    return {literal(top)}\n"
    return _compile(source, namespace, "encode")  # type: ignore[no-any-return]


def _compile_decoder(cls: type) -> Callable[[Mapping[str, Any]], Any]:
    namespace: dict[str, Any] = {"_cls": cls, "_EMPTY": {}}
    groups: dict[str, str] = {}
    lines = ["def decode(d):"]
    arguments = []
    for i, f in enumerate(_plan(cls)):
        source = "d"
        if len(f.path) == 2:
            if f.path[0] not in groups:
                groups[f.path[0]] = f"_g{len(groups)}"
                lines.append(f"    {groups[f.path[0]]} = d.get({f.path[0]!r}, _EMPTY)")
            source = groups[f.path[0]]
        key = repr(f.path[-1])
        present = _converted(f.decode, f.optional, f"{source}[{key}]", f"_d{i}", namespace)
        if f.default is not dataclasses.MISSING:
            namespace[f"_default{i}"] = f.default
            if f.decode is None:
                value = f"{source}.get({key}, _default{i})"
            else:
                value = f"({present} if {key} in {source} else _default{i})"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory{i}"] = f.default_factory
            value = f"({present} if {key} in {source} else _factory{i}())"
        else:
            value = present
        arguments.append(f"{f.name}={value}")
    lines.append(f"    return _cls({', '.join(arguments)})")
    return _compile("\n".join(lines) + "\n", namespace, "decode")  # type: ignore[no-any-return]
