"""Emotion class sets: the one place that maps IEMOCAP's raw labels to class names.

IEMOCAP's label files use three-letter codes (``neu``, ``hap``, ``exc``, ``ang``, ``sad``, ``fru``,
``sur``, ``fea``, ``dis``, ``oth``, ``xxx``). A *class set* maps some of them to class names; the
order of the names is the order of the class indices the models predict. Raw labels outside a class
set are not errors: they are simply not part of the task (the standard 4-class task drops
frustration, surprise, ...).
"""

from __future__ import annotations

#: Every raw label the IEMOCAP release uses, with its meaning.
RAW_LABELS = {
    "neu": "neutral",
    "hap": "happiness",
    "exc": "excitement",
    "ang": "anger",
    "sad": "sadness",
    "fru": "frustration",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "oth": "other",
    "xxx": "no agreement",
}

#: class set name -> {raw label: class name}; the class order is the order of first appearance.
CLASS_SETS: dict[str, dict[str, str]] = {
    # The paper's task: 4 classes, excited merged into happy.
    "4class": {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"},
    "5class": {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad",
               "fru": "frustrated"},
    "6class": {"neu": "neutral", "hap": "happy", "exc": "excited", "ang": "angry", "sad": "sad",
               "fru": "frustrated"},
}


def class_mapping(class_set: str) -> dict[str, str]:
    """The ``{raw label: class name}`` mapping of a class set, with a clear error if unknown."""
    try:
        return CLASS_SETS[class_set]
    except KeyError:
        raise ValueError(
            f"unknown class set {class_set!r}; choose one of {sorted(CLASS_SETS)} "
            "or add yours to emokit.config.labels.CLASS_SETS"
        ) from None


def class_names(class_set: str = "4class") -> list[str]:
    """Class names in index order, e.g. ``['neutral', 'happy', 'angry', 'sad']``."""
    return list(dict.fromkeys(class_mapping(class_set).values()))


def to_class(raw_label: str, class_set: str = "4class") -> str | None:
    """The class name of a raw label, or ``None`` when the label is outside the class set."""
    if raw_label not in RAW_LABELS:
        raise ValueError(f"unknown IEMOCAP label {raw_label!r}; known labels: {sorted(RAW_LABELS)}")
    return class_mapping(class_set).get(raw_label)
