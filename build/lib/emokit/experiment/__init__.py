"""Stage 8, the experiment: every system on every fold and seed under the IEMOCAP protocol,
resumable, then the table. Owns the corpus an experiment reads, one run, the runs of an experiment
in this process or in ``--jobs N`` worker processes, the protocol record, and the command lines
``python -m emokit.experiment`` and ``python -m emokit.experiment.robustness``.

The public face, what the README and the notebooks call:

    from emokit import experiment
    utterances, features = experiment.load_corpus(config)
    rows = experiment.run_experiment(config)

May import every stage before it; only :mod:`emokit.course` comes after.
"""

import os

# TensorFlow's C++ log lines ("Local rendezvous is aborting ... End of sequence" at the end of
# every dataset pass) would bury the progress lines; set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from emokit.core.lazy import lazy_names

_FACE = {
    "load_corpus": "emokit.experiment.corpus",
    "run_experiment": "emokit.experiment.runner",
    "run_sweep": "emokit.experiment.runner",
    "load_config": "emokit.experiment.cli",
    "main": "emokit.experiment.cli",
    "evaluate_robustness": "emokit.experiment.robustness",
}
__all__ = sorted(_FACE)
__getattr__ = lazy_names(__name__, _FACE)
