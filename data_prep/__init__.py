"""Turning raw corpora into what emokit reads.

Each step runs as ``python -m data_prep.<step>``: ``synthetic`` (the built-in IEMOCAP-shaped
corpus), ``iemocap`` (the release parser, writing a manifest) and ``features`` (the feature cache).
The other modules are the steps' pieces: ``iemocap_format``, ``iemocap_text``,
``iemocap_problems`` and ``manifest_source`` for the parser, ``synthetic_plan`` and
``synthetic_writer`` for the built-in corpus; a leading underscore marks private helpers (the
voice, the words, worker processes, the modality check).
"""
