"""codec.py: dataclasses to plain JSON values and back, read forward-compatibly."""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

import orjson
import pytest

from ccm_tui.codec import TaggedUnion, decoder, encoder, wire


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Leaf:
    name: str
    weight: float = 1.0


@dataclass(slots=True)
class Tree:
    label: str
    colour: Colour
    leaves: tuple[Leaf, ...]
    pairs: tuple[tuple[str, int], ...]
    by_colour: dict[Colour, int] = field(default_factory=dict)
    recent: deque[list[int]] = field(default_factory=deque)
    parent: Colour | None = None
    height: float | None = None
    state: Colour = field(default=Colour.RED, metadata=wire("lock", "state"))
    until: float | None = field(default=None, metadata=wire("lock", "until"))


TREE = Tree(
    "oak",
    Colour.BLUE,
    (Leaf("a"), Leaf("b", 2.5)),
    (("x", 1), ("y", 2)),
    {Colour.RED: 3, Colour.BLUE: 4},
    deque([[10, 1, 0], [11, 2, 1]]),
    None,
    12.0,
    Colour.BLUE,
    99.5,
)


def test_a_dataclass_becomes_plain_json_values():
    assert encoder(Tree)(TREE) == {
        "label": "oak",
        "colour": "blue",
        "leaves": [{"name": "a", "weight": 1.0}, {"name": "b", "weight": 2.5}],
        "pairs": [["x", 1], ["y", 2]],
        "by_colour": {"red": 3, "blue": 4},
        "recent": [[10, 1, 0], [11, 2, 1]],
        "parent": None,
        "height": 12.0,
        "lock": {"state": "blue", "until": 99.5},
    }


def test_it_comes_back_equal_with_the_same_container_and_value_types():
    back = decoder(Tree)(orjson.loads(orjson.dumps(encoder(Tree)(TREE))))
    assert back == TREE
    assert type(back.leaves) is tuple and type(back.pairs[0]) is tuple
    assert type(back.recent) is deque and type(back.recent[0]) is list
    assert type(next(iter(back.by_colour))) is Colour
    assert type(back.colour) is Colour


def test_the_encoded_value_shares_no_container_with_the_instance():
    data = encoder(Tree)(TREE)
    data["recent"][0][1] = 1000
    data["by_colour"]["red"] = 0
    assert TREE.recent[0] == [10, 1, 0]
    assert TREE.by_colour[Colour.RED] == 3


def test_fields_a_newer_writer_added_are_ignored_at_every_level():
    data = encoder(Tree)(TREE)
    data["rings"] = 80
    data["leaves"][0]["veins"] = 7
    data["lock"]["owner"] = "me"
    assert decoder(Tree)(data) == TREE


def test_fields_left_out_take_their_defaults():
    data = {"label": "elm", "colour": "red", "leaves": [{"name": "c"}], "pairs": []}
    assert decoder(Tree)(data) == Tree("elm", Colour.RED, (Leaf("c"),), ())


def test_a_missing_field_without_a_default_is_a_key_error():
    with pytest.raises(KeyError, match="label"):
        decoder(Tree)({"colour": "red", "leaves": [], "pairs": []})


def test_an_unknown_enum_value_is_a_value_error():
    with pytest.raises(ValueError, match="green"):
        decoder(Tree)({"label": "x", "colour": "green", "leaves": [], "pairs": []})


def test_whole_numbers_for_float_fields_come_back_as_floats():
    data = encoder(Tree)(TREE) | {"height": 12, "lock": {"until": 100}}
    back = decoder(Tree)(data)
    assert (back.height, back.until) == (12.0, 100.0)
    assert type(back.height) is float and type(back.until) is float


@dataclass(frozen=True, slots=True)
class Ping:
    at: float


@dataclass(frozen=True, slots=True)
class Pong:
    at: float
    reply: str


@dataclass(frozen=True, slots=True)
class Log:
    entries: list[Ping]


def test_a_union_member_carries_its_type_wherever_it_is_encoded():
    union = TaggedUnion([Ping, Pong], what="message")
    assert union.encode(Pong(1.0, "hi")) == {"type": "Pong", "at": 1.0, "reply": "hi"}
    assert encoder(Log)(Log([Ping(2.0)])) == {"entries": [{"type": "Ping", "at": 2.0}]}
    assert union.decode({"type": "Pong", "at": 1, "reply": "hi", "new": 1}) == Pong(1.0, "hi")
    with pytest.raises(ValueError, match="unknown message 'Pang'"):
        union.decode({"type": "Pang", "at": 1.0})


def test_a_class_already_encoded_cannot_join_a_union_and_change_its_form():
    @dataclass(frozen=True, slots=True)
    class Early:
        at: float

    encoder(Early)
    with pytest.raises(RuntimeError, match="Early"):
        TaggedUnion([Early])


@dataclass
class EitherIntOrStr:
    value: int | str


@dataclass
class SetOfInts:
    value: set[int]


@dataclass
class RawBytes:
    value: bytes


@dataclass
class PairWithAnEnum:
    value: tuple[Colour, int]


@pytest.mark.parametrize(
    "cls", [EitherIntOrStr, SetOfInts, RawBytes, PairWithAnEnum], ids=lambda c: c.__name__
)
def test_a_field_with_no_json_form_is_refused_when_the_class_is_compiled(cls):
    with pytest.raises(TypeError, match=r"unions only|no JSON form"):
        encoder(cls)
