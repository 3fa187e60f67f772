"""Values checked against their type hints: the one reader of the JSON the project reads (run configs, model
cards, ``synthetic.json``, the progress lines of a training process) and of settings passed in from Python.

A value that is not what its hint says raises :class:`ValueProblem`, which names where it is (``data.subjects``)
and what it should be (``a whole number``); each reader words the error for its user.
"""

from __future__ import annotations

__all__ = ["ValueProblem", "dataclass_values", "field", "typed"]

import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal


class ValueProblem(Exception):
    """A value that is missing or not of its type: ``where`` it is, the ``value`` found and what was ``expected``."""

    def __init__(self, where: str, value: Any, expected: str) -> None:
        shown = repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."
        super().__init__(f"{where} = {shown} is not {expected}" if expected else f"{where} is missing")
        self.where, self.value, self.expected = where, value, expected


def field(data: Any, key: str, where: str) -> Any:
    """``data[key]`` of a JSON object; ``where`` is the object's place (``""`` at the top)."""
    place = f"{where}.{key}".lstrip(".")
    if not isinstance(data, dict):
        raise ValueProblem(where or "the document", data, "a JSON object")
    if key not in data:
        raise ValueProblem(place, None, "")
    return data[key]


def _boolean(value: Any) -> bool:
    kind = type(value)  # NumPy's bool by its module and name: this module imports no NumPy
    return isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _boolean(value)


def _finite(value: Any) -> bool:
    if not isinstance(value, numbers.Real) or _boolean(value):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


_SIMPLE: dict[Any, tuple[Any, str, Any]] = {  # hint → (test, what it must be, conversion)
    int: (_whole, "a whole number", int),
    float: (_finite, "a finite number", float),
    bool: (_boolean, "true or false", bool),
    str: (lambda v: isinstance(v, str), "text", str),
}


def typed(value: Any, hint: Any, where: str) -> Any:
    """``value`` as ``hint`` says: ``int``, ``float`` (finite), ``bool``, ``str``, ``Literal[...]`` of text,
    ``tuple[X, ...]`` or ``tuple[X, Y]`` (from a list or tuple), ``dict[str, X]`` / ``Mapping[str, X]``,
    ``X | None`` and ``Any`` (anything). Whole numbers become ints, numbers floats, lists tuples.

    Raises:
        ValueProblem: ``value`` is not of that type.
    """
    if hint is Any:
        return value
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in arguments:
        inner = next(argument for argument in arguments if argument is not type(None))
        return None if value is None else typed(value, inner, where)
    if origin is Literal:
        if value not in arguments:
            raise ValueProblem(where, value, f"one of {', '.join(map(str, arguments))}")
        return value
    if origin is tuple:
        element = arguments[0]
        length = None if arguments[-1] is Ellipsis else len(arguments)
        if not isinstance(value, (list, tuple)) or length not in (None, len(value)):
            raise ValueProblem(where, value, f"a list of {f'{length} ' if length else ''}"
                                             f"{_plural(_expected(element))}")
        try:
            return tuple(typed(item, element, where) for item in value)
        except ValueProblem:
            raise ValueProblem(where, value, f"a list of {f'{length} ' if length else ''}"
                                             f"{_plural(_expected(element))}") from None
    if origin in (dict, Mapping):
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise ValueProblem(where, value, "a JSON object")
        return {key: typed(item, arguments[1], f"{where}.{key}") for key, item in value.items()}
    test, expected, convert = _SIMPLE[hint]
    if not test(value):
        raise ValueProblem(where, value, expected)
    return convert(value)


def _expected(hint: Any) -> str:
    return "texts" if typing.get_origin(hint) is Literal else _SIMPLE[hint][1]


def _plural(expected: str) -> str:
    return expected.removeprefix("a ") + ("s" if not expected.endswith("s") else "")


def dataclass_values(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The fields of dataclass ``cls`` read from a JSON object by their type hints: keyword arguments for
    ``cls`` (a field it lacks takes the field's default).

    Raises:
        ValueProblem: ``data`` is not an object, holds a key ``cls`` has no field for, lacks a field without a
            default, or holds a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise ValueProblem(where or "the document", data, "a JSON object")
    hints = typing.get_type_hints(cls)
    names = {item.name for item in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueProblem(f"{where}.{unknown[0]}".lstrip("."), data[unknown[0]], f"a field of {cls.__name__}")
    values = {}
    for item in dataclasses.fields(cls):
        if item.name in data:
            values[item.name] = typed(data[item.name], hints[item.name], f"{where}.{item.name}".lstrip("."))
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise ValueProblem(f"{where}.{item.name}".lstrip("."), None, "")
    return values
