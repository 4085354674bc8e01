"""Paired runs share their initial weights, and a warm start begins from a trained baseline's.

A regularized run and its baseline built with the same seed start from the same weights outside the
discriminator (:func:`shared_weights`, :func:`shared_fingerprint`); with ``init_from: baseline`` a
regularized run starts from the trained baseline's weights instead (:func:`warm_start`).
"""

from __future__ import annotations

import hashlib

import numpy as np

from emokit.config import WARM_START_CLASSIFIERS


def weight_hashes(model) -> list[tuple[str, str]]:
    """``[(variable path, short sha1 of its value)]`` for every weight of ``model``, in order.
    (Paths carry Keras' per-process layer counters, e.g. ``dense_7``: compare by position.)"""
    return [(v.path, hashlib.sha1(np.ascontiguousarray(v.numpy())).hexdigest()[:16])
            for v in model.weights]


def shared_weights(model) -> list:
    """Every weight of ``model`` outside the discriminator, in order: what paired runs share."""
    skip = {id(v) for v in model.discriminator.weights}
    return [v for v in model.weights if id(v) not in skip]


def shared_fingerprint(model) -> str:
    """One hash of the values of every weight outside the discriminator, in order: equal for runs
    that share initial weights (baseline and contrastive runs built with the same seed, or
    warm-started from the same baseline)."""
    digest = hashlib.sha1()
    for v in shared_weights(model):
        digest.update(np.ascontiguousarray(v.numpy()).tobytes())
    return digest.hexdigest()[:16]


def warm_start(model, weights: list[np.ndarray], classifier: str = "copy") -> None:
    """Set ``model``'s shared weights (all but the discriminator's) to a trained baseline's
    ``weights`` (in :func:`shared_weights` order). ``classifier="reinit"``
    (``ExperimentConfig.warm_start_classifier``): set only the encoders' weights; the rest keeps
    the values ``model`` was built with (its seed's initial weights)."""
    targets = shared_weights(model)
    shapes = [tuple(v.shape) for v in targets]
    if [tuple(w.shape) for w in weights] != shapes:
        raise ValueError("the baseline's saved weights do not fit this model (different encoder "
                         "or classifier settings?): delete the baseline runs to retrain them")
    if classifier not in WARM_START_CLASSIFIERS:
        raise ValueError(f"classifier must be one of {WARM_START_CLASSIFIERS}, got {classifier!r}")
    encoders = {id(v) for e in (model.audio_encoder, model.text_encoder) if e is not None
                for v in e.weights}
    for variable, value in zip(targets, weights, strict=True):
        if classifier == "copy" or id(variable) in encoders:
            variable.assign(value)
