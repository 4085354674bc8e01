"""Turning raw corpora into what emokit reads.

Each step runs as ``python -m data_prep.<step>``: ``synthetic`` (the built-in IEMOCAP-shaped
corpus), ``iemocap`` (the release parser, writing a manifest) and ``features`` (the feature cache).
"""
