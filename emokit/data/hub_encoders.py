"""Frozen pretrained encoders from Keras Hub: Whisper frame codes and BERT-class token codes.

Both turn an utterance into a code *sequence* that is cached like the MFCC features
(``data_prep.hub_codes``) and read by emokit's own encoders, pooling, fusion, classifier and pair
losses, unchanged:

* :class:`AudioCodes` (``FeatureConfig.kind: "hub"``): the Whisper encoder's output at
  ``hub_layer``, ``(frames, hidden)`` float32 at 50 frames per second. Whisper reads a padded
  30 s window (``WhisperAudioConverter``: 16 kHz audio to ``(3000, 80)`` log-mel); only the
  utterance's real frames are kept, ``ceil(seconds * 50)``, not the padding. **An utterance over
  30 s is encoded in consecutive 30 s windows** and each window's real frames are concatenated
  (``ceil(seconds * 50)`` frames in all; no attention crosses a window's edge); the cache build
  says how many were.
* :class:`TextCodes` (``TextConfig.hub_preset``): the last hidden state of a BERT-class encoder
  (its own tokenizer and preprocessor), ``(tokens, hidden)`` per transcript, one vector per
  sub-word token, the start and end tokens (``[CLS]``, ``[SEP]``) left out (an empty transcript
  keeps its start token's code); at most the first :data:`TEXT_SEQUENCE_LENGTH` tokens.

A preset is a Keras Hub name (``whisper_base_en``, ``bert_base_en_uncased``: fetched from Kaggle
once, then cached by Keras Hub) or a local preset folder (what ``save_to_preset(folder)`` writes),
the offline route. Keras Hub is optional (``pip install -e ".[hub]"``, TensorFlow >= 2.20):
:func:`require_hub` names the extra when it is missing. A preset that cannot be fetched, an
unknown name or a folder of the wrong model is a :class:`HubPresetError` of one line.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np

from emokit.core.errors import UserError
from emokit.core.optional import MissingOptionalDependency, require

AUDIO_FRAME_RATE = 50  # Whisper encoder frames per second (10 ms mel hop, then a stride-2 conv)
TEXT_SEQUENCE_LENGTH = 128  # tokens a transcript is cut to (IEMOCAP turns are far shorter)
BATCH_SIZE = 8  # utterances per forward pass


class HubPresetError(UserError):
    """A Keras Hub preset that cannot be loaded: the message names it and the fix."""

    exit_code = 2


def require_hub(needed_for: str) -> None:
    """Raise :class:`emokit.core.optional.MissingOptionalDependency` naming the ``hub`` extra
    when Keras Hub is not installed."""
    try:
        require("keras_hub", needed_for)
    except MissingOptionalDependency:
        raise MissingOptionalDependency(
            f"{needed_for} needs keras-hub, which is not installed here: `pip install -e "
            "\".[hub]\"` (emokit[hub]); it brings TensorFlow >= 2.20, so install it in an "
            "environment of its own (or on Colab), not the pinned TensorFlow 2.16 one",
            name="keras_hub") from None


def load_preset(loader, preset: str, setting: str, family: str):
    """``loader.from_preset(preset)`` with one-line errors for the three ways it fails: a local
    folder that is not a preset, an unknown name (the names of ``family`` listed), a preset that
    cannot be fetched (offline: how to supply a folder)."""
    if _is_path(preset):
        if not (Path(preset) / "config.json").is_file():
            raise HubPresetError(
                f"{setting}: {preset!r} is not a Keras Hub preset folder (no config.json); a "
                f"folder is what `backbone.save_to_preset(folder)` writes")
    elif preset not in family.presets:
        raise HubPresetError(
            f"{setting}: unknown preset {preset!r}; {family.__name__} presets: "
            f"{sorted(family.presets)}, or a local preset folder")
    try:
        return loader.from_preset(preset)
    except (OSError, ConnectionError) as error:
        raise HubPresetError(
            f"{setting}: Keras Hub preset {preset!r} cannot be fetched ({type(error).__name__}; "
            f"offline?); where there is network, save it with `{family.__name__}.from_preset("
            f"{preset!r}).save_to_preset('/path/to/folder')` (and the preprocessor's "
            f"save_to_preset to the same folder), then set {setting}: /path/to/folder") from None
    except ValueError as error:  # a folder of another model, say
        raise HubPresetError(f"{setting}: {preset!r}: {str(error).splitlines()[0]}") from None


def _is_path(preset: str) -> bool:
    return os.sep in preset or preset.startswith(".") or Path(preset).is_dir()


class AudioCodes:
    """A frozen Whisper encoder: waveforms to ``(frames, hidden)`` codes of one layer.

    ``layer``: -1 the last hidden state (after the final layer norm), 0 the input embeddings,
    ``k`` the output of transformer layer ``k``. ``all_layers`` (``hub_layers: "weighted"``):
    every layer's codes side by side, ``(frames, (layers + 1) * hidden)``, layer 0 (the
    embeddings) first, for :class:`emokit.model.layer_weights.LayerWeightedSum`.
    """

    def __init__(self, preset: str, layer: int = -1, sample_rate: int = 16000,
                 all_layers: bool = False):
        require_hub(f"features.kind 'hub' (preset {preset!r})")
        import keras
        import keras_hub

        whisper = keras_hub.models.WhisperBackbone
        backbone = load_preset(whisper, preset, "features.hub_preset", whisper)
        self.converter = load_preset(keras_hub.layers.WhisperAudioConverter, preset,
                                     "features.hub_preset", whisper)
        if self.converter.sampling_rate != sample_rate:
            raise HubPresetError(
                f"features.sample_rate: {sample_rate} but preset {preset!r} reads "
                f"{self.converter.sampling_rate} Hz audio; set features.sample_rate: "
                f"{self.converter.sampling_rate}")
        if layer > backbone.num_layers:
            raise HubPresetError(
                f"features.hub_layer: {layer}, but preset {preset!r} has {backbone.num_layers} "
                f"encoder layers; use -1 (last hidden state), 0 (embeddings) or 1.."
                f"{backbone.num_layers}")
        def output(k):
            return backbone.get_layer("encoder_embeddings_dropout" if k == 0 else
                                      f"transformer_encoder_layer_{k - 1}").output

        outputs = ([output(k) for k in range(backbone.num_layers + 1)] if all_layers else
                   [backbone.output["encoder_sequence_output"] if layer == -1 else output(layer)])
        stacked = keras.layers.Concatenate()(outputs) if len(outputs) > 1 else outputs[0]
        self.encoder = keras.Model(backbone.input["encoder_features"], stacked)
        self.hidden_dim = int(backbone.hidden_dim)
        self.num_layers = int(backbone.num_layers)  # transformer layers (the embeddings are 0)
        self.states = len(outputs)  # layers side by side in each frame
        self.width = self.states * self.hidden_dim
        self.max_samples = int(self.converter.num_samples)  # 30 s

    def frames(self, num_samples: int) -> int:
        """Real code frames of a waveform: ``ceil(seconds * 50)``, at least 1."""
        rate = self.converter.sampling_rate
        return max(1, math.ceil(num_samples * AUDIO_FRAME_RATE / rate))

    def is_windowed(self, wave: np.ndarray) -> bool:
        """True for a waveform over 30 s: it is encoded in consecutive 30 s windows."""
        return len(wave) > self.max_samples

    def windows(self, wave: np.ndarray) -> list[np.ndarray]:
        """The consecutive 30 s pieces ``(samples,)`` of a waveform, the last one shorter."""
        wave = np.asarray(wave, np.float32)
        return [wave[start:start + self.max_samples]
                for start in range(0, max(len(wave), 1), self.max_samples)]

    def __call__(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """``(frames, hidden)`` float32 codes of each mono waveform ``(samples,)``:
        ``ceil(seconds * 50)`` frames, window after window for a waveform over 30 s."""
        pieces = [(row, window) for row, wave in enumerate(waves)
                  for window in self.windows(wave)]
        parts = [[] for _ in waves]
        for start in range(0, len(pieces), BATCH_SIZE):
            batch = pieces[start:start + BATCH_SIZE]
            padded = np.zeros((len(batch), self.max_samples), np.float32)
            for k, (_, window) in enumerate(batch):
                padded[k, : len(window)] = window
            hidden = self._encode(padded)
            for k, (row, window) in enumerate(batch):
                parts[row].append(hidden[k, : self.frames(len(window))])
        return [np.concatenate(p) if len(p) > 1 else p[0] for p in parts]

    def _encode(self, padded: np.ndarray) -> np.ndarray:
        """``(batch, 480000)`` padded 30 s windows -> ``(batch, 1500, hidden)`` codes."""
        mels = np.asarray(self.converter(padded))
        return np.asarray(self.encoder.predict_on_batch(mels), np.float32)


@functools.lru_cache(maxsize=2)
def _audio_encoder(preset: str, layer: int, sample_rate: int, all_layers: bool) -> AudioCodes:
    return AudioCodes(preset, layer, sample_rate, all_layers)


def audio_encoder(config) -> AudioCodes:
    """The :class:`AudioCodes` of a ``FeatureConfig`` (kind ``"hub"``), loaded once per process."""
    return _audio_encoder(config.hub_preset, config.hub_layer, config.sample_rate,
                          config.hub_layers == "weighted")


class TextCodes:
    """A frozen BERT-class encoder: transcripts to ``(tokens, hidden)`` codes (last hidden state,
    start and end tokens left out)."""

    def __init__(self, preset: str):
        require_hub(f"text.hub_preset {preset!r}")
        import keras_hub

        family = keras_hub.models.Backbone
        self.backbone = load_preset(family, preset, "text.hub_preset", family)
        length = min(TEXT_SEQUENCE_LENGTH, getattr(self.backbone, "max_sequence_length", 512))
        self.preprocessor = load_preset(_Preprocessor(length), preset, "text.hub_preset", family)
        self.hidden_dim = int(self.backbone.hidden_dim)

    def __call__(self, transcripts: list[str]) -> list[np.ndarray]:
        """``(tokens, hidden)`` float32 codes of each transcript."""
        codes = []
        for start in range(0, len(transcripts), BATCH_SIZE):
            inputs = self.preprocessor(list(transcripts[start:start + BATCH_SIZE]))
            hidden = np.asarray(self.backbone(inputs)["sequence_output"], np.float32)
            for row, n in enumerate(np.asarray(inputs["padding_mask"]).sum(axis=1)):
                codes.append(hidden[row, 1:n - 1] if n > 2 else hidden[row, :1])
        return codes


@functools.lru_cache(maxsize=2)
def text_encoder(preset: str) -> TextCodes:
    """The :class:`TextCodes` of ``preset``, loaded once per process (the text-code cache and
    ``emokit.predict`` use the same one)."""
    return TextCodes(preset)


class _Preprocessor:
    """``TextClassifierPreprocessor.from_preset(preset, sequence_length=length)``, shaped as a
    loader for :func:`load_preset`."""

    def __init__(self, length: int):
        self.length = length

    def from_preset(self, preset: str):
        import keras_hub

        return keras_hub.models.TextClassifierPreprocessor.from_preset(
            preset, sequence_length=self.length)
