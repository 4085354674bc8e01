"""Tiny random-initialized Keras Hub presets saved as local folders, built in seconds offline.

The offline route a user takes with a real preset (``from_preset("/path/to/folder")``), with
backbones so small that a CPU extracts their codes quickly: for the tests and notebook 09's quick
mode. Their weights are random, so their codes say nothing about what a real preset's codes
hold; they exercise the same code path (loading, the 30 s windows, the caches, the model on top).

>>> whisper, bert = tiny_presets(Path("presets"), words=["what", "a", "day"])  # doctest: +SKIP
>>> FeatureConfig(kind="hub", hub_preset=str(whisper))                          # doctest: +SKIP

Needs Keras Hub (``emokit[hub]``).
"""

from __future__ import annotations

from pathlib import Path

WORDS = ("i", "you", "it", "is", "was", "so", "happy", "sad", "angry", "okay", "the", "a",
         "what", "no", "yes", "oh", "really", "great", "##s", "##ed", "##ing")


def tiny_presets(folder: Path, words=WORDS) -> tuple[Path, Path]:
    """``(whisper folder, bert folder)`` under ``folder``: :func:`tiny_whisper` and
    :func:`tiny_bert` (of ``words``), each built once (a folder that holds a preset is kept, so
    the codes cached from it stay its codes)."""
    folder = Path(folder)
    whisper, bert = folder / "whisper", folder / "bert"
    if not (whisper / "config.json").is_file():
        tiny_whisper(whisper)
    if not (bert / "config.json").is_file():
        tiny_bert(bert, words=words)
    return whisper, bert


def tiny_whisper(folder: Path, layers: int = 2, hidden: int = 16, seed: int = 0) -> Path:
    """A Whisper backbone of ``layers`` layers, ``hidden`` wide (2 heads), and its audio converter
    (16 kHz, 80 mels, 30 s), saved into ``folder``; returns ``folder``. ``seed`` sets Keras'
    global seed first, so the same seed gives the same weights."""
    from emokit.data.hub_encoders import require_hub

    require_hub("emokit.data.tiny_presets.tiny_whisper")
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)

    keras_hub.models.WhisperBackbone(
        vocabulary_size=64, num_layers=layers, num_heads=2, hidden_dim=hidden,
        intermediate_dim=2 * hidden, max_decoder_sequence_length=16).save_to_preset(str(folder))
    keras_hub.layers.WhisperAudioConverter().save_to_preset(str(folder))
    return Path(folder)


def tiny_bert(folder: Path, hidden: int = 12, words=WORDS, seed: int = 0) -> Path:
    """A 1-layer BERT, ``hidden`` wide, with a lower-casing WordPiece tokenizer of ``words`` (a
    word outside them reads as ``[UNK]``), saved into ``folder``; returns ``folder``. ``seed``
    sets Keras' global seed first."""
    from emokit.data.hub_encoders import require_hub

    require_hub("emokit.data.tiny_presets.tiny_bert")
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(words)]
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=hidden,
        intermediate_dim=2 * hidden, max_sequence_length=64).save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(
        str(folder))
    return Path(folder)
