"""Checking a whole config before any work: types from the dataclass tree, ranges from one table.

:func:`build_config` turns a nested dict (a YAML file, a preset's ``to_dict()``) into an
:class:`emokit.config.ExperimentConfig`, or raises one :class:`emokit.core.errors.ConfigError` listing
*every* problem, each with the setting's full dotted name and what is allowed::

    2 problem(s) in the config:
      train.epochs: 0 is not allowed; allowed: a whole number >= 1
      pipeline.batch_size: expected a whole number (int), got 'big' (str)

Types come from the dataclass annotations (``int``, ``float``, ``str``, ``bool``, ``X | None``,
``list[X]``, nested dataclasses), so a new setting is type-checked without a line here. YAML reads
``1e-3`` as a string: numeric strings (and whole numbers) are accepted for ``float`` settings.
Ranges and choices live in :data:`RULES`, keyed by dotted name. :func:`validate_config` checks a
config built in Python (``ExperimentConfig(...)``, ``dataclasses.replace``) the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import reprlib
import types
import typing
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emokit.config import choices
from emokit.config.labels import CLASS_SETS
from emokit.core.errors import ConfigError

MAX_QUOTED = 80  # characters of a rejected value an error quotes
MAX_ITEM_PROBLEMS = 5  # problems listed per list setting; the rest are counted
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 2, 4, 4, 4
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxarray = 4
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = MAX_QUOTED, 40, MAX_QUOTED

IEMOCAP_SESSIONS = 5  # folds per protocol: 5 sessions, 10 speakers
FOLDS_PER_PROTOCOL = {"session": IEMOCAP_SESSIONS, "speaker": 2 * IEMOCAP_SESSIONS}


@dataclass(frozen=True)
class Rule:
    """What values a setting allows, beyond its type. For a ``list`` setting the bounds and
    choices apply to each item, and ``nonempty`` refuses ``[]``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: ``low`` itself is refused
    high_open: bool = False
    choices: tuple | None = None
    nonempty: bool = False
    unique: bool = False  # a list setting: each value once (a repeat would run twice, one folder)

    def allowed(self, whole: bool) -> str:
        if self.choices is not None:
            return f"one of {list(self._choices())}"
        kind = "a whole number" if whole else "a number"
        low = f"{'>' if self.low_open else '>='} {self.low:g}" if self.low is not None else ""
        high = f"{'<' if self.high_open else '<='} {self.high:g}" if self.high is not None else ""
        return " ".join(part for part in (kind, low, "and" if low and high else "", high) if part)

    def admits(self, value) -> bool:
        if value is None:
            return True  # an optional setting left unset: the type check speaks for it
        if self.choices is not None:
            return value in self._choices()
        if isinstance(value, str | bool) or value is None:
            return True  # not a number: the type check speaks for it
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and
                    (value > self.high or (self.high_open and value == self.high)))

    def _choices(self) -> tuple:
        return tuple(self.choices)


POSITIVE = Rule(low=0, low_open=True)
AT_LEAST_1 = Rule(low=1)
NON_NEGATIVE = Rule(low=0)
FRACTION = Rule(low=0, high=1)

#: Ranges and choices of the settings, by dotted name (types come from the dataclasses).
RULES: dict[str, Rule] = {
    "corpus.synthetic_size": Rule(choices=("mini", "iemocap")),  # data_prep.synthetic_plan.SIZES
    "corpus.synthetic_seed": Rule(low=0, high=2**32 - 1),  # numpy seeds are 32-bit
    "corpus.text_disagreement": FRACTION,
    "corpus.audio_ambiguity": FRACTION,
    "corpus.snr_db": Rule(low=-20, high=120),
    "corpus.class_set": Rule(choices=tuple(CLASS_SETS)),
    "features.kind": Rule(choices=choices.FEATURE_KINDS),
    "features.sample_rate": Rule(low=4000, high=192000),
    "features.hop_ms": Rule(low=1, high=100),  # >= 4 samples at 4 kHz; 100 ms is coarse already
    "features.win_ms": Rule(low=1, high=200),
    "features.n_mfcc": Rule(low=1, high=128),
    "features.n_mels": Rule(low=1, high=256),
    "features.fmin_hz": Rule(low=20, high=1000),  # pitch search; its window is 2 periods of fmin
    "features.fmax_hz": Rule(low=20, high=4000),
    "features.normalization": Rule(choices=choices.NORMALIZATION_MODES),
    "text.min_count": Rule(low=1, high=1000),
    "text.trainer": Rule(choices=choices.TRAINERS),
    "text.vector_dim": Rule(low=1, high=1000),
    "text.trainer_epochs": Rule(low=1, high=1000),
    "text.seed": Rule(low=0, high=2**31 - 1),
    "pipeline.batch_size": Rule(low=1, high=4096),
    "pipeline.max_frames": Rule(low=1, high=100_000),  # 1000 s at a 10 ms hop
    "pipeline.max_words": Rule(low=1, high=5000),
    "pipeline.bucket_width": Rule(low=1, high=100_000),
    "pipeline.shuffle_seed": Rule(low=0, high=2**31 - 1),
    "pipeline.validation_speakers": Rule(low=1, high=7),  # 4 training sessions: 8 speakers, 1 trains
    "model.latent_dim": Rule(low=1, high=4096),
    "model.audio_conv_filters": Rule(low=1, high=4096),
    "model.audio_conv_kernel": Rule(low=1, high=100),
    "model.audio_conv_layers": Rule(low=0, high=10),  # each halves the frames
    "model.audio_rnn_units": Rule(low=1, high=4096),
    "model.text_rnn_units": Rule(low=1, high=4096),
    "model.dropout": Rule(low=0, high=1, high_open=True),
    "model.modality_dropout": Rule(low=0, high=1, high_open=True),
    "model.aux_heads_weight": NON_NEGATIVE,
    "model.discriminator": Rule(choices=choices.DISCRIMINATORS),
    "model.discriminator_units": Rule(low=1, high=4096),
    "model.temperature": Rule(low=0.01, high=100),  # cosine / temperature: below 0.01 diverges
    "model.pairing": Rule(choices=choices.PAIRINGS),
    "model.objective": Rule(choices=choices.OBJECTIVES),
    "model.pair_loss_scaling": Rule(choices=choices.PAIR_LOSS_SCALINGS),
    "train.epochs": Rule(low=1, high=10_000),
    "train.learning_rate": Rule(low=0, high=1, low_open=True),
    "train.lr_decay": Rule(low=0, high=1, low_open=True),
    "train.clipnorm": Rule(low=0, high=1e6, low_open=True),
    "train.patience": Rule(low=1, high=10_000),
    "train.seed": Rule(low=0, high=2**31 - 1),
    "train.verbose": Rule(low=0, high=2),
    "train.probe_every": Rule(low=1, high=10_000),
    "protocol": Rule(choices=choices.PROTOCOLS),
    "folds": Rule(low=1, nonempty=True, unique=True),
    "seeds": Rule(low=0, high=2**31 - 1, nonempty=True, unique=True),
    "systems": Rule(nonempty=True, unique=True),
    "contrastive_weights": Rule(low=0, high=1000, low_open=True, unique=True),
    "init_from": Rule(choices=("baseline",)),
    "warm_start_classifier": Rule(choices=choices.WARM_START_CLASSIFIERS),
    "jobs": AT_LEAST_1,  # worker processes (never more are started than there are runs)
}

#: Settings that ``systems`` decides for every run: a value set in a config would be overwritten.
DECIDED_BY_SYSTEMS = {"model.modalities": "both", "model.contrastive_weight": 0.0}


# ------------------------------------------------------------------------------------- entry points


def build_config(cls, data: Any, source: str = "the config"):
    """``cls`` (a config dataclass) from nested dict ``data``, every setting checked first.

    Raises :class:`ConfigError` listing every problem (unknown names, wrong types, values out of
    range, settings that contradict each other), each with its full dotted name.
    """
    problems: list[str] = []
    config = _build(cls, data, "", problems)
    if config is not None:
        problems += value_problems(config)
        if not problems and all(hasattr(config, p.split(".")[0]) for p in PATH_SETTINGS):
            expand_user_paths(config)
    if problems:
        raise ConfigError(problems, source)
    return config


def validate_config(config, source: str = "the config") -> None:
    """Check a config built in Python the same way as one read from a file; a leading ``~`` in
    its path settings is then expanded in place."""
    build_config(type(config), dataclasses.asdict(config), source)
    if all(hasattr(config, p.split(".")[0]) for p in PATH_SETTINGS):
        expand_user_paths(config)


def read_settings(path: str | Path) -> dict:
    """The settings dict of a YAML (or JSON) file; a syntax error or a file that is not a
    mapping is a :class:`ConfigError` naming the file."""
    import yaml

    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError([f"{path} is a folder; pass a YAML config file"], str(path))
    try:
        with open(path) as f:
            data = yaml.load(f, Loader=_unique_key_loader()) or {}
    except yaml.YAMLError as e:
        raise ConfigError([f"not valid YAML: {_cap_text(' '.join(str(e).split()))}"],
                          str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"not UTF-8 text ({e.reason} at byte {e.start})"], str(path)) from None
    if not isinstance(data, dict):
        problem = ("expected a mapping of settings (`train: {epochs: 30}`), got "
                   f"{type(data).__name__}")
        raise ConfigError([problem], str(path))
    return data


def _unique_key_loader():
    """A ``yaml.SafeLoader`` that refuses a mapping setting one key twice (plain YAML keeps the
    last one silently), naming the key and both lines."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # an unhashable key: construct_mapping reports it
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the setting {_quote(key)} is given twice (lines {first} "
                        f"and {key_node.start_mark.line + 1}): YAML would keep only the last "
                        "one; delete one of them", key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _cap_text(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


# -------------------------------------------------------------------------------------- types


def _build(cls, data, prefix: str, problems: list[str]):
    """Instance of dataclass ``cls`` from ``data``; bad settings keep their defaults and go to
    ``problems`` (so that every problem is found in one pass)."""
    where = prefix.rstrip(".") or "the config"
    if not isinstance(data, dict):
        problems.append(f"{_cap(where)}: expected a mapping of settings, got {_show(data)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        dotted = _cap(f"{prefix}{name}")
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
                            f"{_show(value)}; write [{_quote(value)}] for one value")
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
        keys_ok = [_coerce(k, key_type, f"{name} key {_quote(k)}", problems)[0] for k in value]
        return all(keys_ok) and all(ok for ok, _ in items.values()), \
            {k: v for k, (_, v) in items.items()}
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return True, value
        problems.append(f"{name}: {_quote(value)} is not allowed; allowed: one of "
                        f"{list(allowed)}")
        return False, None
    if dataclasses.is_dataclass(tp):
        built = _build(tp, value, f"{name}.", problems)  # bad settings inside keep defaults
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
            problems.append(f"{name}: {_quote(value)} is not a finite number")
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
    return f"{_quote(value)} ({type(value).__name__})"


def _quote(value) -> str:
    """``repr(value)``, at most about :data:`MAX_QUOTED` characters, never built in full (a YAML
    alias bomb is a tiny file whose value prints as gigabytes)."""
    return _cap(_REPR.repr(value))


def _cap(text: str) -> str:
    return text if len(text) <= MAX_QUOTED else f"{text[:MAX_QUOTED - 3]}... ({len(text)} chars)"


# ------------------------------------------------------------------------------------- values


def value_problems(config) -> list[str]:
    """Problems with the values of an already typed config: :data:`RULES`, then settings that
    contradict each other."""
    problems = []
    values = dict(_flatten(config))
    for name, rule in RULES.items():
        if name not in values:
            continue
        value = values[name]
        whole = isinstance(value, int) or (isinstance(value, list) and
                                           all(isinstance(v, int) for v in value))
        if isinstance(value, list):
            if rule.nonempty and not value:
                problems.append(f"{name}: an empty list runs nothing; give at least one value "
                                f"({rule.allowed(whole)}) or leave the setting out")
            bad = [v for v in value if not rule.admits(v)]
            if bad:
                problems.append(f"{name}: {_quote(bad)} not allowed; allowed: "
                                f"{rule.allowed(whole)}")
            counts = Counter(v for v in value if isinstance(v, Hashable))
            repeated = sorted(_quote(v) for v, n in counts.items() if n > 1)
            if rule.unique and repeated:
                problems.append(f"{name}: {', '.join(repeated[:5])} given more than once; each "
                                "value would run again into the same results folder: list it once")
        elif not rule.admits(value):
            problems.append(f"{name}: {_quote(value)} is not allowed; allowed: "
                            f"{rule.allowed(whole)}")
    failed = {p.split(":")[0] for p in problems}  # a cross check needs values that passed
    return problems + _cross_problems({k: None if k in failed else v for k, v in values.items()})


def _flatten(config, prefix: str = ""):
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from _flatten(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value


def _cross_problems(values: dict) -> list[str]:
    """Settings that are each fine but contradict another one."""
    problems = []

    def get(name):
        return values.get(name)

    if _numbers(get("features.fmin_hz"), get("features.fmax_hz")) and \
            get("features.fmax_hz") <= get("features.fmin_hz"):
        problems.append(f"features.fmax_hz: {get('features.fmax_hz')!r} must be above "
                        f"features.fmin_hz ({get('features.fmin_hz')!r})")
    if _numbers(get("features.fmax_hz"), get("features.sample_rate")) and \
            get("features.fmax_hz") * 2 > get("features.sample_rate"):
        problems.append(f"features.fmax_hz: {get('features.fmax_hz')!r} is above the Nyquist "
                        f"frequency of features.sample_rate {get('features.sample_rate')!r}")
    if _numbers(get("features.hop_ms"), get("features.win_ms")) and \
            get("features.win_ms") < get("features.hop_ms"):
        problems.append(f"features.win_ms: {get('features.win_ms')!r} is shorter than "
                        f"features.hop_ms ({get('features.hop_ms')!r}): frames would skip audio")
    if _numbers(get("features.n_mfcc"), get("features.n_mels")) and \
            get("features.n_mfcc") > get("features.n_mels"):
        problems.append(f"features.n_mfcc: {get('features.n_mfcc')!r} is more than "
                        f"features.n_mels ({get('features.n_mels')!r})")
    folds, protocol = get("folds"), get("protocol")
    if isinstance(folds, list) and protocol in FOLDS_PER_PROTOCOL:
        count = FOLDS_PER_PROTOCOL[protocol]
        bad = [k for k in folds if isinstance(k, int) and k > count]
        if bad:
            problems.append(f"folds: {bad} out of range; protocol {protocol!r} has folds "
                            f"1..{count}")
    weights = get("contrastive_weights")
    if get("model.objective") == "convex" and isinstance(weights, list):
        bad = [w for w in weights if _numbers(w) and w >= 1]
        if bad:
            problems.append(f"contrastive_weights: {bad} must be below 1 with model.objective "
                            "'convex', where each weight is alpha of (1 - alpha) CE + alpha L")
    if _numbers(get("pipeline.bucket_width"), get("pipeline.max_frames")) and \
            get("pipeline.bucket_width") > get("pipeline.max_frames"):
        problems.append(f"pipeline.bucket_width: {get('pipeline.bucket_width')!r} is more than "
                        f"pipeline.max_frames ({get('pipeline.max_frames')!r}): no utterance is "
                        "that long; use at most max_frames")
    problems += _system_problems(get("systems"), get("init_from"), get("model.objective"))
    name = get("name")
    if isinstance(name, str) and not _inside(name):
        problems.append(f"name: {_quote(name)} would write outside the results folder; use a "
                        "relative name without '..' (sub/folders are fine)")
    if "systems" in values:
        for name, default in DECIDED_BY_SYSTEMS.items():
            if name in values and values[name] != default:
                problems.append(
                    f"{name}: {_quote(values[name])} would be overwritten by each entry of `systems` "
                    f"({_quote(values['systems'])}), which decides it for every run; remove {name} "
                    "from the config and choose the runs with `systems` (audio, text, baseline, "
                    "contrastive-<discriminator>-<weight>)")
    return problems


def _numbers(*values) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _system_problems(systems, init_from, objective) -> list[str]:
    """System names that cannot be parsed, or that contradict ``init_from`` or
    ``model.objective``."""
    if not isinstance(systems, list) or not all(isinstance(s, str) for s in systems):
        return []
    from emokit.config.systems import ALPHA_PREFIX, CONTROL, parse_system

    problems = []
    parsed = []
    for entry in systems:
        if entry == "contrastive" or entry.count("-") == 1 and entry.startswith("contrastive-"):
            parsed.append(("shorthand", entry))
            continue
        try:
            parsed.append((parse_system(entry), entry))
        except ValueError as e:
            problems.append(f"systems: {_cap(str(e))}")
    if CONTROL in systems and init_from != "baseline":
        problems.append(f"systems: {CONTROL!r} is the control of warm-started systems and needs "
                        f"init_from: baseline (init_from is {init_from!r}); set it, or remove "
                        f"{CONTROL!r}")
    regularized = [e for s, e in parsed if s == "shorthand" or s.contrastive_weight > 0]
    if init_from == "baseline" and not regularized:
        problems.append(f"init_from: 'baseline' warm-starts the contrastive systems, but systems "
                        f"{_quote(systems)} has none; add one (e.g. 'contrastive') or remove "
                        "init_from")
    for system, entry in parsed:
        if system == "shorthand" or system.contrastive_weight == 0 or \
                objective not in ("sum", "convex") or system.objective == objective:
            continue
        written = (f"alpha, the '{ALPHA_PREFIX}' prefix" if system.objective == "convex"
                   else "lambda, no 'alpha' prefix")
        problems.append(f"systems: {entry!r} names its weight as {written} (objective "
                        f"{system.objective!r}), but model.objective is {objective!r}; write the "
                        "weight the way the objective reads it, or change model.objective")
    return problems


def _inside(name: str) -> bool:
    """True when ``name`` is a relative path that stays inside the folder it is joined to."""
    path = Path(name)
    return bool(name.strip()) and not path.is_absolute() and not name.startswith("~") and \
        ".." not in path.parts


#: Settings that hold a path a user writes: ``~`` is expanded in them.
PATH_SETTINGS = ("corpus.root", "corpus.data_dir", "text.vectors_path", "train.checkpoint_dir",
                 "train.tensorboard_dir", "results_dir")


def expand_user_paths(config) -> None:
    """Expand a leading ``~`` in every setting of :data:`PATH_SETTINGS` of ``config`` in place."""
    import os

    for dotted in PATH_SETTINGS:
        *parents, leaf = dotted.split(".")
        owner = config
        for part in parents:
            owner = getattr(owner, part)
        value = getattr(owner, leaf)
        if isinstance(value, str) and value.startswith("~"):
            setattr(owner, leaf, os.path.expanduser(value))
