"""Process-wide TensorFlow settings that every stage may need: the GPUs it sees, graph rewrites
off on a CPU, and TensorFlow's one-time oneDNN notice kept off the screen.

Each function imports TensorFlow when called, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib


def gpus() -> list[str]:
    """Names of the visible GPUs (empty on a CPU-only machine)."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def skip_graph_rewrites_on_cpu() -> None:
    """On a machine without GPUs, turn off TensorFlow's graph rewrites (Grappler) for every
    ``tf.function`` built from now on, in this process.

    On CPU they buy the kit's small recurrent models nothing per step but cost seconds each time
    a training step or a predict function is first run (the masked GRUs' while loops): measured
    on a loaded 2-core machine, the first call of the quick preset's training step took 31-36 s
    with them and 10-15 s without, its first validation pass 21 s and 8-12 s, later steps the
    same time (0.54-0.67 s) and the same numbers. On a GPU they stay on (layout and fusion
    rewrites matter there).
    """
    import tensorflow as tf

    if not gpus():
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


_onednn_notice_absorbed = False


def absorb_onednn_bool_notice() -> None:
    """Let TensorFlow print its one-time oneDNN notice about boolean tensors into /dev/null.

    Keras' recurrent layers transpose their boolean mask to time-major; the first graph in a
    process with a boolean ``Transpose`` makes TensorFlow's oneDNN build log, once, the error line
    ``E ... oneDNN supports DT_BOOL only on platforms with AVX-512. Falling back to the default
    Eigen-based implementation`` (also on AVX-512 machines, and whatever
    ``TF_CPP_MIN_LOG_LEVEL=2`` says: it hides I and W lines, not E). Nothing is wrong: a mask
    transpose runs on Eigen, as it should. This runs one tiny boolean transpose, once per
    process, with the C++ error stream pointed at /dev/null, so that the notice is spent there
    and any later TensorFlow error still shows.
    """
    global _onednn_notice_absorbed
    if _onednn_notice_absorbed:
        return
    _onednn_notice_absorbed = True
    import os
    import sys

    import tensorflow as tf

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            tf.function(tf.transpose)(tf.constant([[True, False]]))
    finally:
        os.dup2(saved, 2)
        os.close(saved)



@contextlib.contextmanager
def kernel_cache_kept():
    """Inside this block TensorFlow keeps its cache of compiled kernels when something asks to
    clear it (``tf.random.set_seed`` and ``keras.backend.clear_session`` both do).

    A cleared cache makes every compiled function create its kernels again on its next call:
    0.6-0.8 s for the quick model's training step on a 2-core CPU, paid again in every run that
    reuses a compiled model (:mod:`emokit.training.reuse`). The clearing exists so that stateful
    random kernels restart from a new seed; emokit's graphs hold none (dropout and initializers
    are Keras' stateless ops, seeded from ``SeedGenerator`` variables: ``tests/test_memory.py``
    checks the training step's graph), so for them it buys nothing.
    """
    from tensorflow.python import pywrap_tfe

    real = pywrap_tfe.TFE_ContextClearCaches
    pywrap_tfe.TFE_ContextClearCaches = lambda handle: None
    try:
        yield
    finally:
        pywrap_tfe.TFE_ContextClearCaches = real


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)`` (Python, NumPy, Keras and TensorFlow seeds), keeping
    TensorFlow's compiled kernels (:func:`kernel_cache_kept`)."""
    import keras

    with kernel_cache_kept():
        keras.utils.set_random_seed(seed)
