"""How a problem message quotes a value a user wrote: short, and never built in full.

:func:`quote` is ``repr(value)`` cut to about :data:`MAX_QUOTED` characters by :mod:`reprlib`, so a
YAML alias bomb (a tiny file whose value prints as gigabytes) is quoted in a line; :func:`cap` cuts
any text to that length, saying how long it was.
"""

from __future__ import annotations

import reprlib

MAX_QUOTED = 80  # characters of a rejected value an error quotes
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 2, 4, 4, 4
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxarray = 4
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = MAX_QUOTED, 40, MAX_QUOTED


def quote(value) -> str:
    """``repr(value)``, at most about :data:`MAX_QUOTED` characters, never built in full (a YAML
    alias bomb is a tiny file whose value prints as gigabytes)."""
    return cap(_REPR.repr(value))


def cap(text: str) -> str:
    """``text`` cut to :data:`MAX_QUOTED` characters, saying how long it was."""
    return text if len(text) <= MAX_QUOTED else f"{text[:MAX_QUOTED - 3]}... ({len(text)} chars)"
