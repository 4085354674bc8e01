"""Turning raw corpora into what emokit reads.

Each step runs as ``python -m data_prep.<step>``: ``synthetic`` (the built-in IEMOCAP-shaped
corpus), ``iemocap`` (the release parser, writing a manifest) and ``features`` (the feature cache).
The other modules are the steps' pieces: ``iemocap_format``, ``iemocap_text``,
``iemocap_problems`` and ``manifest_source`` for the parser, ``synthetic_plan`` and
``synthetic_writer`` for the built-in corpus; a leading underscore marks private helpers (the
voice, the words, worker processes, the modality check).

Its place in the data flow: after :mod:`emokit.data` (it may import :mod:`emokit.core`,
:mod:`emokit.config` and :mod:`emokit.data`), before the model; only :mod:`emokit.experiment`
calls it, to build a corpus or its feature cache when they are missing. It stays outside the
``emokit`` package because its steps run on their own, once per corpus, and hold what is
specific to one release (IEMOCAP's folder layout and file formats, the synthetic generator),
which a user of the layers never imports.
"""
