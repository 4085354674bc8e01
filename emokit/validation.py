"""Checking a whole config before any work: types from the dataclass tree, ranges from one table.

:func:`build_config` turns a nested dict (a YAML file, a preset's ``to_dict()``) into an
:class:`emokit.config.ExperimentConfig`, or raises one :class:`emokit.errors.ConfigError` listing
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
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emokit.errors import ConfigError

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
    choices: tuple | Callable[[], Iterable] | None = None  # a callable is asked when checking
    nonempty: bool = False

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
        return tuple(self.choices() if callable(self.choices) else self.choices)


def _choices_of(module: str, name: str) -> Callable[[], tuple]:
    """The choices held by ``module.name`` (a tuple or dict), read when a config is checked."""
    def choices() -> tuple:
        import importlib

        return tuple(getattr(importlib.import_module(module), name))
    return choices


POSITIVE = Rule(low=0, low_open=True)
AT_LEAST_1 = Rule(low=1)
NON_NEGATIVE = Rule(low=0)
FRACTION = Rule(low=0, high=1)

#: Ranges and choices of the settings, by dotted name (types come from the dataclasses).
RULES: dict[str, Rule] = {
    "corpus.synthetic_size": Rule(choices=("mini", "iemocap")),  # data_prep.synthetic.SIZES
    "corpus.synthetic_seed": NON_NEGATIVE,
    "corpus.text_disagreement": FRACTION,
    "corpus.audio_ambiguity": FRACTION,
    "corpus.snr_db": Rule(low=-20, high=120),
    "corpus.class_set": Rule(choices=_choices_of("emokit.labels", "CLASS_SETS")),
    "features.kind": Rule(choices=_choices_of("emokit.features", "FEATURE_KINDS")),
    "features.sample_rate": Rule(low=4000, high=192000),
    "features.hop_ms": POSITIVE,
    "features.win_ms": POSITIVE,
    "features.n_mfcc": AT_LEAST_1,
    "features.n_mels": AT_LEAST_1,
    "features.fmin_hz": POSITIVE,
    "features.fmax_hz": POSITIVE,
    "features.normalization": Rule(choices=_choices_of("emokit.features", "NORMALIZATION_MODES")),
    "text.min_count": AT_LEAST_1,
    "text.trainer": Rule(choices=_choices_of("emokit.word_vectors", "TRAINERS")),
    "text.vector_dim": AT_LEAST_1,
    "text.trainer_epochs": AT_LEAST_1,
    "text.seed": NON_NEGATIVE,
    "pipeline.batch_size": AT_LEAST_1,
    "pipeline.max_frames": AT_LEAST_1,
    "pipeline.max_words": AT_LEAST_1,
    "pipeline.bucket_width": AT_LEAST_1,
    "pipeline.shuffle_seed": NON_NEGATIVE,
    "pipeline.validation_speakers": AT_LEAST_1,
    "model.latent_dim": AT_LEAST_1,
    "model.audio_conv_filters": AT_LEAST_1,
    "model.audio_conv_kernel": AT_LEAST_1,
    "model.audio_conv_layers": NON_NEGATIVE,
    "model.audio_rnn_units": AT_LEAST_1,
    "model.text_rnn_units": AT_LEAST_1,
    "model.dropout": Rule(low=0, high=1, high_open=True),
    "model.modality_dropout": Rule(low=0, high=1, high_open=True),
    "model.discriminator": Rule(choices=_choices_of("emokit.config", "DISCRIMINATORS")),
    "model.discriminator_units": AT_LEAST_1,
    "model.temperature": POSITIVE,
    "model.pairing": Rule(choices=_choices_of("emokit.config", "PAIRINGS")),
    "model.objective": Rule(choices=_choices_of("emokit.config", "OBJECTIVES")),
    "model.pair_loss_scaling": Rule(choices=_choices_of("emokit.config", "PAIR_LOSS_SCALINGS")),
    "train.epochs": AT_LEAST_1,
    "train.learning_rate": Rule(low=0, high=1, low_open=True),
    "train.lr_decay": Rule(low=0, high=1, low_open=True),
    "train.clipnorm": POSITIVE,
    "train.patience": AT_LEAST_1,
    "train.seed": NON_NEGATIVE,
    "train.verbose": Rule(low=0, high=2),
    "protocol": Rule(choices=_choices_of("emokit.folds", "PROTOCOLS")),
    "folds": Rule(low=1, nonempty=True),
    "seeds": Rule(low=0, nonempty=True),
    "systems": Rule(nonempty=True),
    "contrastive_weights": Rule(low=0, low_open=True),
    "init_from": Rule(choices=("baseline",)),
    "warm_start_classifier": Rule(choices=_choices_of("emokit.config", "WARM_START_CLASSIFIERS")),
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
    if problems:
        raise ConfigError(problems, source)
    return config


def validate_config(config, source: str = "the config") -> None:
    """Check a config built in Python the same way as one read from a file."""
    build_config(type(config), dataclasses.asdict(config), source)


def read_settings(path: str | Path) -> dict:
    """The settings dict of a YAML (or JSON) file; a syntax error or a file that is not a
    mapping is a :class:`ConfigError` naming the file."""
    import yaml

    path = Path(path)
    if path.is_dir():
        raise ConfigError([f"{path} is a folder; pass a YAML config file"], str(path))
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError([f"not valid YAML: {' '.join(str(e).split())}"], str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"not UTF-8 text ({e.reason} at byte {e.start})"], str(path)) from None
    if not isinstance(data, dict):
        problem = ("expected a mapping of settings (`train: {epochs: 30}`), got "
                   f"{type(data).__name__}")
        raise ConfigError([problem], str(path))
    return data


# -------------------------------------------------------------------------------------- types


def _build(cls, data, prefix: str, problems: list[str]):
    """Instance of dataclass ``cls`` from ``data``; bad settings keep their defaults and go to
    ``problems`` (so that every problem is found in one pass)."""
    where = prefix.rstrip(".") or "the config"
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping of settings, got {_show(data)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
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
                            f"{_show(value)}; write [{value!r}] for one value")
            return False, None
        items = [_coerce(v, item_type, f"{name}[{i}]", problems) for i, v in enumerate(value)]
        return all(ok for ok, _ in items), [v for _, v in items]
    if origin is dict:
        key_type, value_type = typing.get_args(tp) or (Any, Any)
        if not isinstance(value, dict):
            problems.append(f"{name}: expected a mapping, got {_show(value)}")
            return False, None
        items = {k: _coerce(v, value_type, f"{name}.{k}", problems) for k, v in value.items()}
        keys_ok = [_coerce(k, key_type, f"{name} key {k!r}", problems)[0] for k in value]
        return all(keys_ok) and all(ok for ok, _ in items.values()), \
            {k: v for k, (_, v) in items.items()}
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return True, value
        problems.append(f"{name}: {value!r} is not allowed; allowed: one of {list(allowed)}")
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
            problems.append(f"{name}: {value!r} is not a finite number")
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
    return f"{value!r} ({type(value).__name__})"


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
                problems.append(f"{name}: {bad} not allowed; allowed: {rule.allowed(whole)}")
        elif not rule.admits(value):
            problems.append(f"{name}: {value!r} is not allowed; allowed: {rule.allowed(whole)}")
    return problems + _cross_problems(values)


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
    if "systems" in values:
        for name, default in DECIDED_BY_SYSTEMS.items():
            if name in values and values[name] != default:
                problems.append(
                    f"{name}: {values[name]!r} would be overwritten by each entry of `systems` "
                    f"({values['systems']}), which decides it for every run; remove {name} "
                    "from the config and choose the runs with `systems` (audio, text, baseline, "
                    "contrastive-<discriminator>-<weight>)")
    return problems


def _numbers(*values) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
