"""Stage 3, the data: from a manifest of utterances to batches a model reads.

Owns audio decoding, transcripts and vocabularies, the manifest, folds (the protocol's speaker
splits), frame-level features and their cache, word vectors, the ``tf.data`` pipeline of one fold,
degradations for robustness tests, and the transcript overlap between training and test sets.
``data_prep/`` (outside this package) turns a raw corpus into the manifest read here.
May import: :mod:`emokit.core`, :mod:`emokit.config`.
"""
