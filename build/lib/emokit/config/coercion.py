"""Types from the dataclass tree: a nested dict (YAML values) coerced into config dataclasses.

:func:`build_typed` builds a dataclass from a dict, checking each value against its annotation
(``int``, ``float``, ``str``, ``bool``, ``X | None``, ``list[X]``, ``dict[K, V]``, ``Literal``,
nested dataclasses). A bad value keeps the setting's default and adds a problem, so that every
problem is found in one pass. YAML reads ``1e-3`` as a string: numeric strings (and whole numbers)
are accepted for ``float`` settings.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any

from emokit.config.quoting import MAX_QUOTED, cap, quote

MAX_ITEM_PROBLEMS = 5  # problems listed per list setting; the rest are counted


def build_typed(cls, data, prefix: str, problems: list[str]):
    """Instance of dataclass ``cls`` from ``data``; bad settings keep their defaults and go to
    ``problems`` (so that every problem is found in one pass)."""
    where = prefix.rstrip(".") or "the config"
    if not isinstance(data, dict):
        problems.append(f"{cap(where)}: expected a mapping of settings, got {_show(data)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        dotted = cap(f"{prefix}{name}")
        if name not in fields:
            close = difflib.get_close_matches(str(name)[:MAX_QUOTED], fields, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            problems.append(f"{dotted}: unknown setting{hint} (known in {where}: "
                            f"{sorted(fields)})")
            continue
        ok, coerced = _coerce(value, hints[name], dotted, problems)
        if ok:
            kwargs[name] = coerced
    return cls(**kwargs)


def _coerce(value, tp, name: str, problems: list[str]) -> tuple[bool, Any]:
    """``(True, value as type tp)`` or ``(False, None)`` with the problem appended."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return True, None
        options = [a for a in args if a is not type(None)]
        for option in options:
            trial: list[str] = []
            ok, coerced = _coerce(value, option, name, trial)
            if ok:
                return True, coerced
        if len(options) == 1:
            problems += [f"{p} (or null)" for p in trial]
        else:
            problems.append(f"{name}: expected {' or '.join(map(_type_name, args))}, got "
                            f"{_show(value)}")
        return False, None
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            problems.append(f"{name}: expected a list of {_PLURAL.get(item_type, item_type)}, got "
                            f"{_show(value)}; write [{quote(value)}] for one value")
            return False, None
        item_problems: list[str] = []
        items = [_coerce(v, item_type, f"{name}[{i}]", item_problems) for i, v in enumerate(value)]
        problems += item_problems[:MAX_ITEM_PROBLEMS]
        if len(item_problems) > MAX_ITEM_PROBLEMS:
            problems.append(f"{name}: ... and {len(item_problems) - MAX_ITEM_PROBLEMS} more "
                            "problem(s) in this list")
        return all(ok for ok, _ in items), [v for _, v in items]
    if origin is dict:
        key_type, value_type = typing.get_args(tp) or (Any, Any)
        if not isinstance(value, dict):
            problems.append(f"{name}: expected a mapping, got {_show(value)}")
            return False, None
        items = {k: _coerce(v, value_type, f"{name}.{k}", problems) for k, v in value.items()}
        keys_ok = [_coerce(k, key_type, f"{name} key {quote(k)}", problems)[0] for k in value]
        return all(keys_ok) and all(ok for ok, _ in items.values()), \
            {k: v for k, (_, v) in items.items()}
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return True, value
        problems.append(f"{name}: {quote(value)} is not allowed; allowed: one of "
                        f"{list(allowed)}")
        return False, None
    if dataclasses.is_dataclass(tp):
        built = build_typed(tp, value, f"{name}.", problems)  # bad settings inside keep defaults
        return built is not None, built
    if tp is bool:
        if isinstance(value, bool):
            return True, value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return True, value
    elif tp is float:
        number = _as_float(value)
        if number is not None:
            if math.isfinite(number):
                return True, number
            problems.append(f"{name}: {quote(value)} is not a finite number")
            return False, None
    elif tp is str:
        if isinstance(value, str):
            return True, value
    elif isinstance(tp, type) and tp is not object:
        if isinstance(value, tp):
            return True, value
    else:  # Any, or a type this module does not know: nothing to check
        return True, value
    problems.append(f"{name}: expected {_type_name(tp)}, got {_show(value)}")
    return False, None


def _as_float(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


_PLURAL = {int: "whole numbers", float: "numbers", str: "names", bool: "true/false values"}


def _type_name(tp) -> str:
    return {int: "a whole number (int)", float: "a number (float)", str: "text (str)",
            bool: "true or false (bool)", type(None): "null"}.get(tp, getattr(tp, "__name__",
                                                                               str(tp)))


def _show(value) -> str:
    return f"{quote(value)} ({type(value).__name__})"
