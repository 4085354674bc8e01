"""What this runtime has (TensorFlow, Keras, GPUs, tensorflow-io) and what changes on a GPU
(:func:`use_accelerator`, from :mod:`emokit.config.accelerator`).

>>> report = runtime_report()          # doctest: +SKIP
>>> config = use_accelerator(ExperimentConfig())   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import platform

from emokit.config.accelerator import use_accelerator  # noqa: F401 (notebook 00 imports it here)
from emokit.core.tf_process import gpus


def runtime_report() -> dict[str, object]:
    """Versions and devices, and which optional pieces are usable: the tensorflow-io decoder,
    tensorboard (``TrainConfig.tensorboard_dir``) and ipywidgets (notebook progress bars)."""
    import keras
    import tensorflow as tf

    from emokit.core.optional import PIECES, is_available
    from emokit.data.audio import tfio_status

    tfio_ok, tfio_reason = tfio_status()
    report = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": gpus(),
        "tensorflow-io": "available" if tfio_ok else f"unavailable ({tfio_reason})",
    }
    for module, (package, extra) in PIECES.items():
        report[package] = ("available" if is_available(module)
                           else f"not installed (pip install \"emokit[{extra}]\")")
    return report


def _gradient_registry() -> dict:
    """TensorFlow's process-wide table of gradient functions by op type name (private API: an
    empty dict, so that nothing is recorded or freed, where a TensorFlow version lacks it)."""
    from tensorflow.python.framework import ops

    registry = getattr(ops, "_gradient_registry", None)
    return getattr(registry, "_registry", None) if registry is not None else {}


class CustomGradients:
    """The custom gradients TensorFlow registers while some ``tf.function``s are traced, given
    back with :meth:`forget` once those functions are no longer used (issue #20).

    Each ``tf.custom_gradient`` traced into a graph is registered under a new name
    (``CustomGradient-<n>``) in TensorFlow's process-wide gradient registry, for good, and the
    registered function keeps the graph it was traced in alive. Keras' TensorFlow optimizer sums
    every training step's gradients with ``ReplicaContext.all_reduce``, which is such a custom
    gradient (also on one device): so each traced training step stayed alive, with its graph, its
    GRU loop bodies and their gradients (about 25 TensorFlow functions, about 100 MB resident
    memory for the quick preset's model) after its model, optimizer and ``tf.function`` were gone.

    >>> custom = CustomGradients()                   # doctest: +SKIP
    >>> with custom.recording():                      # doctest: +SKIP
    ...     tape_and_apply(inputs, labels)            # (traced inside a tf.function)
    >>> custom.forget()   # the graph is freed with the last tf.function that uses it
    """

    def __init__(self):
        self.names: list[str] = []

    @contextlib.contextmanager
    def recording(self):
        """Note the names of the custom gradients registered while this ``with`` block runs:
        the ones the code traced in it made (and any another thread traced at the same time)."""
        registry = _gradient_registry()
        before = set(registry)
        try:
            yield
        finally:
            self.names += [name for name in registry
                           if name not in before and name.startswith("CustomGradient-")]

    def forget(self) -> None:
        """Remove the recorded custom gradients from TensorFlow's registry. A graph traced with
        them can still run, but no gradient can be taken through it any more."""
        registry = _gradient_registry()
        for name in self.names:
            registry.pop(name, None)
        self.names.clear()
