"""Stage 7, evaluation: what is read back from finished runs. Owns the run store (one folder per
run), the report and its statistics over folds, the ``-selected`` systems (a weight chosen on
validation), the improvised/scripted split, the plots, and robustness (a trained run re-tested
with a modality missing or degraded).

May import: every stage before it (:mod:`emokit.core` ... :mod:`emokit.training`,
:mod:`emokit.inference`), not :mod:`emokit.experiment` or :mod:`emokit.course`.
"""
