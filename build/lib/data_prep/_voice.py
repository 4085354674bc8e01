"""Numpy speech synthesis for the built-in corpus: a source-filter voice with emotional prosody.

A glottal pulse train (pitch contour, jitter, shimmer) is tilted by a one-pole low-pass, mixed with
aspiration noise (breathiness), shaped into syllables and passed through vowel-like formant
resonances; background noise is added at a chosen SNR. Emotion is carried by :class:`Prosody`:
pitch level and range, speaking rate, energy, spectral tilt, breathiness and jitter.

What is said: by default each syllable takes one of four vowels at random, so the audio tells how
many words and how long, not which. The lexical voice (``lexical=True``) speaks every word with its
one :func:`pronunciation` (syllables gliding between their own F1/F2 targets, their own relative
lengths, maybe a consonant-like onset burst), the same for every speaker and seed, so the audio
carries the words too; speakers still differ by vocal tract (:class:`Voice`) and prosody.
"""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass, fields

import numpy as np
from scipy.signal import lfilter

SAMPLE_RATE = 16000
REFERENCE_RMS = 0.03  # speech RMS of a neutral utterance; background noise is set against it

# (F1, F2) of a few vowels, Hz, for a reference (male) vocal tract.
_VOWELS = ((730.0, 1090.0), (270.0, 2290.0), (300.0, 870.0), (530.0, 1840.0))
_F3_F4 = (2500.0, 3500.0)


@dataclass(frozen=True)
class Prosody:
    """How an emotion sounds, relative to a speaker's neutral voice."""

    pitch: float  # pitch level, x the speaker's base F0
    pitch_range: float  # std of the pitch contour, in octaves
    rate: float  # speaking rate, x neutral
    energy_db: float  # level, dB re neutral
    tilt: float  # one-pole low-pass coefficient on the source: higher = darker voice
    breathiness: float  # aspiration noise, relative to the voiced source
    jitter: float  # pulse-period jitter, fraction of a period

    def blend(self, other: Prosody, weight: float) -> Prosody:
        """``(1 - weight) * self + weight * other``, field by field."""
        return Prosody(*((1 - weight) * getattr(self, f.name) + weight * getattr(other, f.name)
                         for f in fields(self)))


#: Prosody of each emotion (the 4 classes); out-of-set labels borrow one of these.
EMOTION_PROSODY = {
    "neutral": Prosody(pitch=1.00, pitch_range=0.10, rate=1.00, energy_db=0.0, tilt=0.93,
                       breathiness=0.04, jitter=0.010),
    "happy": Prosody(pitch=1.22, pitch_range=0.24, rate=1.10, energy_db=3.0, tilt=0.90,
                     breathiness=0.04, jitter=0.012),
    "angry": Prosody(pitch=1.12, pitch_range=0.18, rate=1.12, energy_db=7.0, tilt=0.78,
                     breathiness=0.02, jitter=0.025),
    "sad": Prosody(pitch=0.90, pitch_range=0.06, rate=0.80, energy_db=-4.0, tilt=0.965,
                   breathiness=0.12, jitter=0.018),
}


@dataclass(frozen=True)
class Voice:
    """A speaker: base pitch and vocal-tract size."""

    f0: float  # Hz
    formant_scale: float  # formant frequencies x this (shorter tracts: higher formants)

    @classmethod
    def random(cls, gender: str, rng: np.random.Generator) -> Voice:
        if gender == "F":
            return cls(f0=float(rng.uniform(185, 235)), formant_scale=float(rng.uniform(1.12, 1.22)))
        return cls(f0=float(rng.uniform(95, 135)), formant_scale=float(rng.uniform(0.95, 1.05)))


def _resonator(freq: float, bandwidth: float) -> np.ndarray:
    """Denominator of a two-pole resonance at ``freq`` Hz."""
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    return np.array([1.0, -2.0 * r * np.cos(2 * np.pi * freq / SAMPLE_RATE), r * r])


def _formant_filter(freqs: tuple[float, ...], scale: float) -> np.ndarray:
    """Denominator of a cascade of resonances (bandwidth grows with frequency)."""
    a = np.array([1.0])
    for f in freqs:
        f = min(f * scale, 0.45 * SAMPLE_RATE)
        a = np.convolve(a, _resonator(f, 60.0 + 0.06 * f))
    return a


def _syllables(word: str) -> int:
    return int(np.clip(round(len(word) / 3.0), 1, 4))


@dataclass(frozen=True)
class Syllable:
    """One syllable of a word's fixed pronunciation (the lexical voice)."""

    formants: tuple[float, float, float, float]  # F1, F2 at its start, then at its end (Hz)
    length: float  # relative length (1 = an average syllable)
    burst_hz: float  # centre of a consonant-like noise burst at its onset; 0 = none


@functools.lru_cache(maxsize=8192)
def pronunciation(word: str) -> tuple[Syllable, ...]:
    """How the lexical voice says ``word`` (case aside): the same for every speaker, session and
    seed, since it is drawn from a generator seeded by the word itself (crc32). F1/F2 targets are
    continuous (F1 250-850 Hz, F2 up to 2600 Hz, for a reference male tract), so two words rarely
    sound alike."""
    rng = np.random.default_rng(zlib.crc32(word.lower().encode()))
    return tuple(_lexical_syllable(rng) for _ in range(_syllables(word)))


def _lexical_syllable(rng: np.random.Generator) -> Syllable:
    start = _vowel_target(rng)
    end = _vowel_target(rng) if rng.random() < 0.5 else start  # a diphthong or a steady vowel
    burst = float(rng.uniform(1500.0, 6500.0)) if rng.random() < 0.7 else 0.0
    return Syllable(start + end, float(rng.uniform(0.6, 1.5)), burst)


def _vowel_target(rng: np.random.Generator) -> tuple[float, float]:
    f1 = float(rng.uniform(250.0, 850.0))
    return f1, float(rng.uniform(max(800.0, f1 + 350.0), 2600.0))


def _timeline(tokens: list[str], rate: float, n_samples: int, rng: np.random.Generator,
              lexical: bool = False):
    """Segments ``(start, length, kind)`` in samples, kind 0 = syllable, 1 = laughter, 2 = breath,
    and each segment's :class:`Syllable` (``None`` unless ``lexical``; non-speech: ``None``).

    Relative durations follow the rate (and, ``lexical``, each syllable's own length); the whole is
    scaled to fill the utterance between short leading and trailing silences.
    """
    units, kinds, sounds = [], [], []  # relative start offsets are built from durations and pauses
    for i, token in enumerate(tokens):
        if i:
            units.append(rng.uniform(0.15, 0.7) / rate)  # pause between words
            kinds.append(-1)
            sounds.append(None)
        if token == "[LAUGHTER]":
            for _ in range(int(rng.integers(3, 6))):
                units += [rng.uniform(0.5, 0.8), 0.25]
                kinds += [1, -1]
                sounds += [None, None]
        elif token.startswith("["):
            units.append(rng.uniform(2.0, 3.0))
            kinds.append(2)
            sounds.append(None)
        else:
            syllables = pronunciation(token) if lexical else (None,) * _syllables(token)
            for syllable in syllables:
                length = (rng.uniform(0.75, 1.25) if syllable is None
                          else syllable.length * rng.uniform(0.9, 1.1))
                units.append(length / rate)
                kinds.append(0)
                sounds.append(syllable)
    lead, tail = (int(rng.uniform(0.05, 0.2) * SAMPLE_RATE) for _ in range(2))
    span = max(n_samples - lead - tail, len(units))
    lengths = np.asarray(units) * span / np.sum(units)
    starts = lead + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    kinds = np.asarray(kinds)
    keep = kinds >= 0
    sounds = [sound for sound, kept in zip(sounds, keep) if kept]
    return starts[keep].astype(int), np.maximum(lengths[keep].astype(int), 1), kinds[keep], sounds


def _segment_vowels(sounds: list, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's vowel: an index into ``_VOWELS`` drawn at random `(n_seg,)`, and the F1, F2
    it starts and ends on `(n_seg, 4)`, a segment's own :class:`Syllable` overriding the draw."""
    vowel = rng.integers(0, len(_VOWELS), len(sounds))
    formants = np.asarray(_VOWELS)[vowel][:, [0, 1, 0, 1]]
    for i, sound in enumerate(sounds):
        if sound is not None:
            formants[i] = sound.formants
    return vowel, formants


_RING = 400  # samples a segment's resonances ring on after it (25 ms)
_BURST = 400  # samples of a syllable's onset burst


def _lexical_tract(excitation: np.ndarray, noise: np.ndarray, starts, lengths, formants,
                   sounds: list, scale: float) -> np.ndarray:
    """Each segment through its own F1/F2 resonances, gliding from its start targets to its end
    targets (two filters cross-faded) and brought back to its excitation's level (as speakers keep
    vowels about equally loud); `(n_samples,)`."""
    n_samples = len(excitation)
    speech = np.zeros(n_samples)
    for start, length, targets, sound in zip(starts, lengths, formants, sounds):
        end = min(start + length + _RING, n_samples)
        x = excitation[start:end].copy()
        x[length:] = 0.0  # this segment's excitation only; the rest of the slice is its ring
        glide = np.clip(np.arange(end - start) / length, 0.0, 1.0)
        first = lfilter([1.0], _formant_filter(tuple(targets[:2]), scale), x)
        last = lfilter([1.0], _formant_filter(tuple(targets[2:]), scale), x)
        y = (1 - glide) * first + glide * last
        speech[start:end] += y * _rms(x) / max(_rms(y), 1e-12)
    return speech


def _add_bursts(speech: np.ndarray, noise: np.ndarray, starts, lengths, sounds: list,
                scale: float) -> np.ndarray:
    """``speech`` `(n_samples,)` with each syllable's onset burst: decaying noise through one
    resonance at its ``burst_hz``, half as loud (RMS) as the syllable."""
    speech = speech.copy()
    for start, length, sound in zip(starts, lengths, sounds):
        if sound is None or not sound.burst_hz:
            continue
        n = min(_BURST, length, len(speech) - start)
        burst = noise[start:start + n] * np.exp(-np.arange(n) / (n / 2))
        burst = lfilter([1.0], _formant_filter((sound.burst_hz,), scale), burst)
        speech[start:start + n] += burst * 0.5 * _rms(speech[start:start + length]) / max(
            _rms(burst), 1e-12)
    return speech


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def _segment_index(starts, lengths, n_samples):
    """Per sample: the segment it belongs to (-1 = silence) and its position in it (0..1)."""
    seg = np.full(n_samples, -1)
    pos = np.zeros(n_samples)
    for i, (s, n) in enumerate(zip(starts, lengths)):  # a few dozen segments: cheap
        e = min(s + n, n_samples)
        seg[s:e] = i
        pos[s:e] = np.arange(e - s) / n
    return seg, pos


def synthesize(transcript: str, n_samples: int, voice: Voice, prosody: Prosody,
               snr_db: float, rng: np.random.Generator, lexical: bool = False) -> np.ndarray:
    """A speech-like waveform `(n_samples,)` float32 for ``transcript``, 16 kHz; ``lexical``: each
    word spoken with its own :func:`pronunciation`."""
    tokens = re.findall(r"\[[A-Z]+\]|[\w']+", transcript) or ["uh"]
    starts, lengths, kinds, sounds = _timeline(tokens, prosody.rate, n_samples, rng, lexical)
    seg, pos = _segment_index(starts, lengths, n_samples)
    n_seg = len(starts)

    # Pitch: declination + a per-syllable accent, interpolated smoothly across the utterance.
    centers = starts + lengths / 2
    accents = rng.normal(0.0, 1.0, n_seg) - np.linspace(-0.8, 0.8, n_seg)
    octaves = prosody.pitch_range * np.interp(np.arange(n_samples), centers, accents)
    f0 = voice.f0 * prosody.pitch * 2.0 ** octaves

    # Glottal pulses (with jitter and shimmer) where syllables are voiced.
    syllable = (seg >= 0) & (kinds[np.maximum(seg, 0)] == 0)
    phase = np.cumsum(f0 / SAMPLE_RATE)
    pulses = np.flatnonzero(np.diff(np.floor(phase), prepend=0.0) > 0)
    pulses = pulses[syllable[pulses]]
    period = SAMPLE_RATE / f0[pulses]
    pulses = np.clip(pulses + np.round(rng.normal(0, prosody.jitter, len(pulses)) * period), 0,
                     n_samples - 1).astype(int)
    source = np.zeros(n_samples)
    np.add.at(source, pulses, 1.0 + rng.normal(0, 3 * prosody.jitter, len(pulses)))
    source = lfilter([1.0], [1.0, -prosody.tilt], source)
    source -= lfilter([1.0], [1.0, -0.995], source) * (1 - 0.995)  # remove the DC drift

    # Syllable envelopes; aspiration noise (breathiness), laughter and breaths are noise.
    shape = np.sin(np.pi * pos) ** 0.7 * (seg >= 0)
    loudness = rng.uniform(0.6, 1.0, n_seg)[np.maximum(seg, 0)]
    noise = np.diff(rng.normal(0, 1, n_samples + 1))  # high-pass white noise
    aspiration = prosody.breathiness * noise * np.std(source[syllable] if syllable.any() else source)
    nonspeech = np.where(kinds[np.maximum(seg, 0)] > 0, 0.3 * np.std(source) * noise, 0.0)
    excitation = (source * syllable + aspiration * syllable) * shape * loudness + nonspeech * shape

    # Vocal tract: one vowel per syllable (or its pronunciation's glide), then the higher formants.
    vowel, formants = _segment_vowels(sounds, rng)
    if lexical:
        speech = _lexical_tract(excitation, noise, starts, lengths, formants, sounds,
                                voice.formant_scale)
    else:
        vowel = vowel[np.maximum(seg, 0)]
        speech = np.zeros(n_samples)
        for v, targets in enumerate(_VOWELS):
            speech += lfilter([1.0], _formant_filter(targets, voice.formant_scale),
                              excitation * (vowel == v))
    speech = lfilter([1.0], _formant_filter(_F3_F4, voice.formant_scale), speech)
    if lexical:
        speech = _add_bursts(speech, noise, starts, lengths, sounds, voice.formant_scale)
    speech -= speech.mean()

    active = seg >= 0
    rms = np.sqrt(np.mean(speech[active] ** 2)) if active.any() else 1.0
    speech *= REFERENCE_RMS * 10 ** (prosody.energy_db / 20) / max(rms, 1e-12)
    background = lfilter([1.0], [1.0, -0.9], rng.normal(0, 1, n_samples))
    background *= REFERENCE_RMS * 10 ** (-snr_db / 20) / np.std(background)
    return np.clip(speech + background, -0.99, 0.99).astype(np.float32)
