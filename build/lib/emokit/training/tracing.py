"""How emokit compiles its TensorFlow functions: each ``tf.function`` counted on its own, and
input signatures with free batch and length dimensions, so that one trace serves every batch shape.
"""

from __future__ import annotations

import functools

import tensorflow as tf


def own_function(python_function, **options):
    """``tf.function(python_function, **options)`` whose tracing TensorFlow counts on its own.

    TensorFlow counts traces per *code object*: every Trainer's step and every model's predict
    function come from the same source line, so the first trace of each new one looked like
    retracing of a single function ("5 out of the last 13 calls to <function ...> triggered
    tf.function retracing"). Wrapped in a ``functools.partial``, each function is counted apart
    (and its counter goes with it), so a real retrace, many traces of one function, still warns.
    """
    return tf.function(functools.partial(python_function), **options)


def general_signature(element_spec):
    """``element_spec`` with every dimension free except the feature axis of rank-3 tensors
    (``(batch, frames, feature_dim)`` audio), as a tf.function ``input_signature``."""
    def free(spec):
        shape = [None] * (spec.shape.rank - 1) + [spec.shape[-1] if spec.shape.rank == 3 else None]
        return tf.TensorSpec(shape, spec.dtype)

    return tuple(tf.nest.map_structure(free, element_spec))
