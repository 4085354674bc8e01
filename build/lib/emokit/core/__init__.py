"""Stage 1, the foundations every later stage may use: user errors, atomic writes, the data and
results folders, locks, optional dependencies, the command-line error wrapper, and process-wide
TensorFlow settings (:mod:`emokit.core.tf_process`). Imports nothing else of emokit.
"""
