"""Feedback for the course notebooks' exercises: how one answer is checked and what it is told.

A student notebook leaves each answer as ``...`` (or ``None``); ``check`` then says "not answered
yet" and the notebook runs on. A right answer says so; a wrong one gets a hint that points at the
kind of mistake (wrong type, wrong shape or length, off by a factor, a mistake the exercise
foresees) without printing the right answer. ``check`` never raises, so an unanswered or wrong
exercise never stops a notebook; it prints one line per exercise and returns its status.

    check("1", n_positive, expected=10,
          hints=[(9, "count the pairs of an utterance with itself too")])

The statuses (:data:`RIGHT`, :data:`WRONG`, :data:`UNANSWERED`) are what the grader counts; the
per-notebook checkers that call :func:`check` are in :mod:`emokit.course.exercises`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

UNANSWERED = "not answered yet"
RIGHT = "right"
WRONG = "not right yet"

Hint = tuple[Any, str]  # (a wrong answer, or a predicate on the answer, that earns the message)


def is_unanswered(answer: Any) -> bool:
    """True for the placeholders a student notebook starts with: ``...`` and ``None``."""
    return answer is ... or answer is None


def check(name: str, answer: Any, expected: Any = None, *, accept: Callable[[Any], bool] | None = None,
          hints: Sequence[Hint] = (), hint: str = "", factors: Sequence[int] = (), rtol: float = 1e-6,
          atol: float = 1e-9) -> str:
    """Print and return the status of exercise ``name``: "not answered yet", "right" or "not right yet".

    ``expected`` is the right answer (a number, a string, a sequence or an array, compared with the
    tolerances for numbers); for answers with many right forms pass ``accept``, a predicate.
    ``hints`` are ``(wrong_answer_or_predicate, message)`` pairs tried in order on a wrong answer;
    ``hint`` is the message when no foreseen mistake matches. ``factors``: the factors (2, 100,
    ...) a number may be off by through a real slip of this exercise (a one-sided p, a percentage);
    only those earn "off by a factor of N". A ``True``/``False`` is never a right number.
    """
    if is_unanswered(answer):
        return _report(name, UNANSWERED, "replace the `...` with your answer")
    try:
        right = accept(answer) if accept is not None else _equal(answer, expected, rtol, atol)
    except Exception as error:  # noqa: BLE001 - a malformed answer is wrong, not a crash
        return _report(name, WRONG, f"checking it raised {type(error).__name__}: {error}")
    if right:
        return _report(name, RIGHT, "")
    return _report(name, WRONG, _hint_for(answer, expected, accept is None, hints, hint, factors,
                                          rtol, atol))


def _report(name: str, status: str, detail: str) -> str:
    mark = {RIGHT: "✓", WRONG: "✗", UNANSWERED: "…"}[status]
    print(f"{mark} exercise {name}: {status}" + (f" ({detail})" if detail else ""))
    return status


def _equal(answer: Any, expected: Any, rtol: float, atol: float) -> bool:
    if isinstance(expected, str) or isinstance(answer, str):
        return answer == expected
    if _is_bool(expected) or _is_bool(answer):  # True is no number, and 1 is no True
        return _is_bool(answer) and _is_bool(expected) and bool(answer) == bool(expected)
    a, e = np.asarray(answer), np.asarray(expected)
    if a.shape != e.shape:
        return False
    if a.dtype.kind in "biuf" and e.dtype.kind in "biuf":
        return bool(np.allclose(a, e, rtol=rtol, atol=atol))
    return bool(np.array_equal(a, e))


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_)) or (np.ndim(value) == 0 and not isinstance(value, str)
                                                  and getattr(value, "dtype", None) == np.bool_)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def is_single_number(answer: Any) -> bool:
    """A single number: not a bool, a string or an array."""
    return (not _is_bool(answer) and not isinstance(answer, str) and np.ndim(answer) == 0
            and _is_number(answer))


def is_close(answer: Any, value: float, rtol: float, atol: float) -> bool:
    """A single number (a bool or a string is none) within the tolerances of ``value``."""
    return is_single_number(answer) and bool(np.isclose(float(answer), value, rtol=rtol,
                                                        atol=atol))


def letter(answer: Any) -> str:
    """The option a choice answer names: ``"c"`` for ``"c"``, ``"C"``, ``" (c) "`` or ``"c."``;
    "" for anything that is no string."""
    return answer.strip().strip("().:").strip().lower() if isinstance(answer, str) else ""


def check_choice(name: str, answer: Any, right: str, options: str, *, hints: Sequence[Hint] = (),
                 hint: str = "") -> str:
    """:func:`check` for a choice among the letters of ``options`` (``"abcde"``); ``right`` is
    the right one, worked out by the checker. A bool, a number or an unknown letter is told the
    form; ``hints`` are ``(letter, message)`` pairs for the foreseen wrong options."""
    form = f"one letter from {options[0]} to {options[-1]}, as a string (in quotes)"
    return check(name, answer, accept=lambda a: letter(a) == right,
                 hints=[(lambda a: not isinstance(a, str), f"expected {form}"),
                        (lambda a: letter(a) not in list(options), f"expected {form}"),
                        *[(lambda a, w=wrong: letter(a) == w, message) for wrong, message in hints
                          if wrong != right]],
                 hint=hint)


def _hint_for(answer, expected, has_expected, hints, fallback, factors, rtol, atol) -> str:
    for wrong, message in hints:
        try:
            matched = wrong(answer) if callable(wrong) else _equal(answer, wrong, rtol, atol)
        except Exception:  # noqa: BLE001 - a hint that does not apply
            matched = False
        if matched:
            return message
    if has_expected:
        generic = _shape_hint(answer, expected, factors)
        if generic:
            return generic
    return fallback or "not this one: reread the exercise and try again"


def _shape_hint(answer, expected, factors=()) -> str:
    """A hint about the form of the answer: its type, shape, length, or one of ``factors`` it is
    off by."""
    if _is_bool(expected):
        return "" if _is_bool(answer) else "expected True or False"
    if isinstance(expected, str):
        return "" if isinstance(answer, str) else f"expected a string, got {type(answer).__name__}"
    if isinstance(expected, (int, float, np.number)):
        if np.ndim(answer) > 0:
            return f"expected a single number, got something of shape {np.shape(answer)}"
        if _is_bool(answer) or isinstance(answer, str) or not _is_number(answer):
            return f"expected a number, got {type(answer).__name__}"
        answer = float(answer)
        if expected != 0 and answer != 0 and math.isfinite(answer):
            ratio = answer / expected
            for factor in factors:
                for r, word in ((factor, "larger"), (1 / factor, "smaller")):
                    if math.isclose(ratio, r, rel_tol=1e-6):
                        return f"off by a factor of {factor}: yours is {factor}x {word}"
        return ""
    answer_shape, expected_shape = np.shape(answer), np.shape(expected)
    if answer_shape != expected_shape:
        if len(expected_shape) == 1 and len(answer_shape) == 1:
            return f"expected {expected_shape[0]} items, got {answer_shape[0]}"
        return f"expected shape {expected_shape}, got {answer_shape}"
    return ""
