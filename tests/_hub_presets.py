"""Tiny random-init Keras Hub presets saved as local folders: the offline route the kit's users
take (``from_preset("/path/to/folder")``), built in seconds for the tests (no download)."""

from __future__ import annotations

from pathlib import Path

WORDS = ["i", "you", "it", "is", "was", "so", "happy", "sad", "angry", "okay", "the", "a",
         "what", "no", "yes", "oh", "really", "great", "##s", "##ed", "##ing"]


def tiny_whisper(folder: Path, layers: int = 2, hidden: int = 16) -> Path:
    """A 2-layer Whisper (16 wide) and its audio converter (16 kHz, 80 mels, 30 s)."""
    import keras_hub

    keras_hub.models.WhisperBackbone(
        vocabulary_size=64, num_layers=layers, num_heads=2, hidden_dim=hidden,
        intermediate_dim=2 * hidden, max_decoder_sequence_length=16).save_to_preset(str(folder))
    keras_hub.layers.WhisperAudioConverter().save_to_preset(str(folder))
    return folder


def tiny_bert(folder: Path, hidden: int = 12) -> Path:
    """A 1-layer BERT (12 wide) with a WordPiece tokenizer of :data:`WORDS`."""
    import keras_hub

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=hidden,
        intermediate_dim=2 * hidden, max_sequence_length=64).save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(
        str(folder))
    return folder
