"""Test-time degradations of one modality: noisy audio, word errors, a missing modality.

Functions you can call on your own waveforms, transcripts and batches; every random choice comes
from a ``seed``, so the same call gives the same result. :mod:`emokit.evaluation.degraded_folds`
applies them to a finished experiment's test folds.

- Audio: :func:`add_noise` mixes noise into a waveform ``(samples,)`` at a chosen signal-to-noise
  ratio (SNR, dB, over the whole utterance): :func:`white_noise`, or :func:`babble`, a sum of other
  utterances' waveforms (each at equal power), the noise of a crowd of talkers. :func:`snr_db`
  measures it back.
- Text: :func:`word_errors` edits a word list ``[str]`` at a chosen word error rate (WER): errors
  are substitutions by another word of a given vocabulary, deletions and insertions, in the mix
  :data:`ERROR_MIX` (60% / 20% / 20% by default: speech recognizers make more substitutions than
  either of the other two). :func:`word_error_rate` measures it back (word-level edit distance).
- Missing modality, as the encoders see it in a batch of the pipeline (:mod:`emokit.data.pipeline`):
  :func:`drop_audio` leaves every frame padding (zeros, ``audio_mask`` all False: the audio
  encoder's attention pooling gives such a row zero weights, so its code is finite);
  :func:`drop_text` gives every utterance the empty transcript, which the pipeline encodes as one
  ``<unk>`` token (a transcript of no words always becomes ``[<unk>]``).

>>> import numpy as np
>>> wave = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype("float32")
>>> noisy = add_noise(wave, white_noise(len(wave), seed=0), snr=10.0)
>>> round(snr_db(wave, noisy), 1)
10.0
>>> word_errors("i am so happy today".split(), 0.4, ["sad", "angry"], seed=0)
['angry', 'am', 'so', 'happy', 'angry']
"""

from __future__ import annotations

import zlib

import numpy as np

#: Shares of substitutions, deletions and insertions among the word errors of :func:`word_errors`.
ERROR_MIX = {"substitution": 0.6, "deletion": 0.2, "insertion": 0.2}
BABBLE_TALKERS = 4  # utterances summed into one babble noise
_POWER_FLOOR = 1e-12


# --- audio -----------------------------------------------------------------------------------------

def signal_power(wave: np.ndarray) -> float:
    """Mean square of a waveform ``(samples,)``."""
    return float(np.mean(np.square(np.asarray(wave, dtype=np.float64))))


def white_noise(samples: int, seed: int = 0) -> np.ndarray:
    """Gaussian white noise ``(samples,)`` float32 of unit power."""
    return np.random.default_rng(seed).standard_normal(samples).astype(np.float32)


def fit_length(wave: np.ndarray, samples: int, seed: int = 0) -> np.ndarray:
    """``wave (n,)`` cut or looped to ``(samples,)``, starting at a seeded random offset."""
    wave = np.asarray(wave, dtype=np.float32)
    if len(wave) == 0:
        raise ValueError("cannot fit an empty waveform to a length")
    start = int(np.random.default_rng(seed).integers(len(wave)))
    return np.resize(np.roll(wave, -start), samples)


def babble(others: list[np.ndarray], samples: int, talkers: int = BABBLE_TALKERS,
           seed: int = 0) -> np.ndarray:
    """Babble noise ``(samples,)`` float32: ``talkers`` waveforms drawn from ``others`` (each
    ``(n_i,)``, other utterances than the one the noise goes into), each cut or looped to
    ``samples`` from a random offset and scaled to unit power, then summed."""
    if not others:
        raise ValueError("babble needs at least one other utterance")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(others), size=min(talkers, len(others)), replace=False)
    mix = np.zeros(samples, dtype=np.float64)
    for i, pick in enumerate(picks):
        voice = fit_length(others[pick], samples, seed=int(rng.integers(2**31)) + i)
        mix += voice / np.sqrt(max(signal_power(voice), _POWER_FLOOR))
    return mix.astype(np.float32)


def add_noise(wave: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """``wave (samples,)`` plus ``noise`` (cut or looped to ``(samples,)``) scaled so that the
    signal-to-noise ratio over the utterance is ``snr`` dB: ``10 log10(P(wave) / P(noise))``.
    Returns float32 ``(samples,)``; the clean level is unchanged (features may see clipping-free
    values above 1, as a recording with headroom would)."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform (samples,), got shape {wave.shape}")
    noise = fit_length(noise, len(wave)) if len(noise) != len(wave) else np.asarray(noise)
    scale = np.sqrt(signal_power(wave) / max(signal_power(noise), _POWER_FLOOR)
                    / 10.0 ** (snr / 10.0))
    return (wave + scale * noise).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The SNR (dB) of ``noisy`` against its ``clean`` waveform, both ``(samples,)``."""
    noise = np.asarray(noisy, dtype=np.float64) - np.asarray(clean, dtype=np.float64)
    return 10.0 * np.log10(signal_power(clean) / max(signal_power(noise), _POWER_FLOOR))


def utterance_seed(*parts) -> int:
    """A seed from names and numbers (an utterance id, a level...): the same parts give the same
    seed in every process (unlike ``hash``)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


# --- text ------------------------------------------------------------------------------------------

def word_errors(words: list[str], wer: float, vocabulary: list[str], seed: int = 0,
                mix: dict[str, float] | None = None) -> list[str]:
    """``words`` with word errors at rate ``wer`` (0 ... 1): about ``wer * len(words)`` errors
    (rounded up or down at random so the expected count is exact), each a substitution (the word
    replaced by another word of ``vocabulary``), a deletion or an insertion (a ``vocabulary``
    word inserted before a word or at the end), drawn with the shares of ``mix``
    (:data:`ERROR_MIX`). Substitutions and deletions hit distinct words. Returns a new list.
    """
    if not 0.0 <= wer <= 1.0:
        raise ValueError(f"wer must be in [0, 1], got {wer}")
    mix = dict(ERROR_MIX if mix is None else mix)
    if set(mix) != set(ERROR_MIX) or min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise ValueError(f"mix needs non-negative shares for {sorted(ERROR_MIX)}, got {mix}")
    choices = [w for w in dict.fromkeys(vocabulary)]
    if not choices and (mix["substitution"] > 0 or mix["insertion"] > 0):
        raise ValueError("substitutions and insertions need a non-empty vocabulary")
    rng = np.random.default_rng(seed)
    exact = wer * len(words)
    count = int(exact) + int(rng.random() < exact - int(exact))
    kinds = list(ERROR_MIX)
    shares = np.array([mix[k] for k in kinds], dtype=float)
    drawn = rng.choice(kinds, size=count, p=shares / shares.sum()) if count else []
    on_words = [k for k in drawn if k != "insertion"][: len(words)]  # at most one per word
    inserts = count - len(on_words)
    targets = rng.choice(len(words), size=len(on_words), replace=False) if on_words else []
    edit = dict(zip((int(t) for t in targets), on_words))
    insert_at = rng.integers(len(words) + 1, size=inserts)
    out: list[str] = []
    for i in range(len(words) + 1):
        for _ in range(int(np.sum(insert_at == i))):
            out.append(choices[int(rng.integers(len(choices)))])
        if i == len(words):
            break
        kind = edit.get(i)
        if kind == "substitution":
            out.append(_other_word(words[i], choices, rng))
        elif kind != "deletion":
            out.append(words[i])
    return out


def _other_word(word: str, choices: list[str], rng) -> str:
    if len(choices) == 1 and choices[0] == word:
        raise ValueError(f"cannot substitute {word!r}: it is the vocabulary's only word")
    while True:
        other = choices[int(rng.integers(len(choices)))]
        if other != word:
            return other


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Word-level edit distance (substitutions + deletions + insertions) over ``len(reference)``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / max(len(reference), 1)


# --- a missing modality ----------------------------------------------------------------------------

def drop_audio(inputs: dict) -> dict:
    """A batch of the pipeline (``{"audio": (batch, frames, dims), "audio_mask": (batch, frames),
    "tokens", "text_mask"}``, NumPy arrays or tensors) with no audio: every frame zero and masked
    out, shapes unchanged. The text entries are untouched."""
    return {**inputs, "audio": inputs["audio"] * 0, "audio_mask": inputs["audio_mask"] & False}


def drop_text(inputs: dict, unk: int = 1) -> dict:
    """A batch of the pipeline whose transcripts are all empty, as the pipeline encodes an empty
    transcript: one ``<unk>`` token (id ``unk``, ``Vocabulary.UNK``) and a text mask with only its
    first entry True; ``tokens``/``text_mask`` keep their ``(batch, max_words)`` shape."""
    first = np.zeros(inputs["text_mask"].shape[1], dtype=bool)
    first[0] = True
    mask = inputs["text_mask"] & False | first
    return {**inputs, "tokens": inputs["tokens"] * 0 + unk * first.astype(np.int32),
            "text_mask": mask}
