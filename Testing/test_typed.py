"""The one reader of typed values: what each hint accepts, what it converts, and how a problem is named."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pytest

from AttriVAELib.typed import ValueProblem, dataclass_values, typed


@pytest.mark.parametrize("value, hint, expected", [
    (3, int, 3), (np.int64(3), int, 3), (2, float, 2.0), (np.float32(0.5), float, 0.5), (True, bool, True),
    (np.bool_(False), bool, False), ("a", str, "a"), ([1, 2], tuple[int, ...], (1, 2)),
    ((0.5, 99.5), tuple[float, float], (0.5, 99.5)), ("bce", Literal["bce", "mse"], "bce"), (None, int | None, None),
    (4, int | None, 4), ({"a": 1}, dict[str, float], {"a": 1.0}), ({"a": 1}, Mapping[str, float], {"a": 1.0}),
    ([1, "x"], Any, [1, "x"]),
])
def test_values_of_their_type_are_read_and_converted(value, hint, expected):
    result = typed(value, hint, "here")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value, hint, message", [
    (1.5, int, "here = 1.5 is not a whole number"), (True, int, "here = True is not a whole number"),
    ("80", int, "here = '80' is not a whole number"), (math.nan, float, "here = nan is not a finite number"),
    (10**400, float, "is not a finite number"), ("yes", bool, "here = 'yes' is not true or false"),
    (3, str, "here = 3 is not text"),
    ([1, 2, 3], tuple[float, float], "here = [1, 2, 3] is not a list of 2 finite numbers"),
    ([1, 2.5], tuple[int, ...], "is not a list of whole numbers"),
    ("sse", Literal["bce", "mse"], "is not one of bce, mse"),
    ({1: 2}, dict[str, float], "is not a JSON object"), ({"a": "x"}, dict[str, float], "here.a = 'x' is not a finite"),
    (list(range(100)), str, f"here = {repr(list(range(100)))[:57]}... is not text"),  # long values shortened
])
def test_a_value_of_another_type_is_named_with_its_place(value, hint, message):
    with pytest.raises(ValueProblem, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        typed(value, hint, "here")


@dataclass
class Record:
    name: str
    count: int
    weights: tuple[float, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def test_a_dataclass_is_read_field_by_field():
    assert dataclass_values(Record, {"name": "a", "count": 2, "weights": [1, 2]}, "record") == {
        "name": "a", "count": 2, "weights": (1.0, 2.0)}
    with pytest.raises(ValueProblem, match="record.count is missing"):
        dataclass_values(Record, {"name": "a"}, "record")
    with pytest.raises(ValueProblem, match="record.colour = 'red' is not a field of Record"):
        dataclass_values(Record, {"name": "a", "count": 1, "colour": "red"}, "record")
    with pytest.raises(ValueProblem, match="record = \\[\\] is not a JSON object"):
        dataclass_values(Record, [], "record")
