"""Frame-level audio features: MFCCs with their deltas and prosody (YIN pitch), or log-mel.

``extract_features`` turns a waveform into ``(frames, dims)`` float32 features at a 10 ms hop and a
25 ms window (``FeatureConfig``). Frame ``i`` is centred on sample ``i * hop`` (the signal is
zero-padded by half a window at both ends), so a waveform of ``n`` samples gives
``1 + n // hop`` frames. Two kinds:

* ``"mfcc"`` (default): ``n_mfcc`` MFCCs, their deltas and delta-deltas, then three prosody
  streams: log-F0 (a vectorized YIN pitch tracker; unvoiced frames carry the log-F0 interpolated
  from their voiced neighbours), periodicity (``1 -`` YIN's aperiodicity, near 1 for clearly voiced
  frames, near 0 for noise or silence) and log RMS energy. ``3 * n_mfcc + 3`` dims.
* ``"logmel"``: ``n_mels`` log mel-band energies.
* ``"hub"``: the codes of a frozen Whisper encoder at 50 frames/s (:mod:`emokit.data.hub_encoders`;
  the feature cache extracts them in batches instead).

One STFT per utterance feeds MFCCs and energy; pitch runs on the signal decimated to 8 kHz.

>>> from emokit.config import FeatureConfig
>>> import numpy as np
>>> cfg = FeatureConfig()
>>> wave = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype("float32")
>>> extract_features(wave, cfg).shape == (101, feature_dim(cfg))
True
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import scipy.signal

from emokit.config import FeatureConfig
from emokit.core.errors import DataError

PITCH_RATE = 8000  # Hz: pitch is tracked on the signal decimated to this rate
YIN_THRESHOLD = 0.2  # aperiodicity below which a frame counts as voiced
DIP_TOLERANCE = 0.25  # a dip this close to the deepest one also counts (avoids octave-low errors)
LOG_FLOOR = 1e-10


# ----------------------------------------------------------------------------------------------
# Extraction


def feature_dim(config: FeatureConfig) -> int:
    """Number of feature dims per frame that ``extract_features(wave, config)`` returns."""
    if config.kind == "mfcc":
        return 3 * config.n_mfcc + 3
    if config.kind == "logmel":
        return config.n_mels
    if config.kind == "hub":  # the encoder's width (loads it once)
        from emokit.data.hub_encoders import audio_encoder

        return audio_encoder(config).width
    raise ValueError(f"unknown feature kind {config.kind!r}; use 'mfcc', 'logmel' or 'hub'")


def feature_layers(config: FeatureConfig) -> int:
    """How many encoder layers' codes each frame holds side by side: every layer's (embeddings
    included) for ``hub_layers: "weighted"`` (loads the encoder once), else 1."""
    if config.kind == "hub" and config.hub_layers == "weighted":
        from emokit.data.hub_encoders import audio_encoder

        return audio_encoder(config).states
    return 1


def frame_seconds(config: FeatureConfig) -> float:
    """Seconds from one frame to the next: the hop, or 1/50 s for Whisper codes (kind "hub")."""
    if config.kind == "hub":
        from emokit.data.hub_encoders import AUDIO_FRAME_RATE

        return 1 / AUDIO_FRAME_RATE
    return config.hop_ms / 1000


def frame_count(num_samples: int, config: FeatureConfig) -> int:
    """Frames that a waveform of ``num_samples`` samples gives: ``1 + num_samples // hop``."""
    return 1 + num_samples // _hop(config)


def extract_features(wave: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Features ``(frames, feature_dim(config))`` float32 of a mono waveform ``(samples,)``.

    ``wave`` must be at ``config.sample_rate`` (``emokit.data.audio.load_audio`` does that) and
    finite; features that are not finite raise :class:`emokit.core.errors.DataError`.
    """
    feature_dim(config)  # validates config.kind
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform (samples,), got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise DataError("the waveform holds NaN or inf samples; load it with "
                        "emokit.data.audio.load_audio, which names the file")
    if config.kind == "hub":  # Whisper codes (frames, hidden) at 50 frames/s, one utterance
        from emokit.data.hub_encoders import audio_encoder

        return _finite(audio_encoder(config)([wave])[0])
    return _finite(_extract(wave, config))


def _finite(features: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(features)
    if bad.any():
        raise DataError(f"{int(bad.sum())} feature values are NaN or inf (the first in frame "
                        f"{int(np.argmax(bad.any(axis=1)))}); the audio is probably corrupt")
    return features


def _extract(wave: np.ndarray, config: FeatureConfig) -> np.ndarray:
    power = _power_spectrogram(wave, config)  # (frames, n_fft // 2 + 1)
    log_mel = np.log(power @ _mel_basis(config) + LOG_FLOOR)  # (frames, n_mels)
    if config.kind == "logmel":
        return log_mel.astype(np.float32)
    mfcc = log_mel @ _dct_basis(config)  # (frames, n_mfcc)
    delta = _delta(mfcc)
    log_f0, periodicity = track_pitch(wave, config)
    log_energy = 0.5 * np.log(power.sum(axis=1) * (2.0 / _n_fft(config) ** 2) + LOG_FLOOR)
    prosody = np.stack([log_f0, periodicity, log_energy], axis=1)
    return np.concatenate([mfcc, delta, _delta(delta), prosody], axis=1).astype(np.float32)


def track_pitch(wave: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(log_f0, periodicity)``, each ``(frames,)`` float32, by a vectorized YIN.

    For every frame, YIN's cumulative-mean-normalized difference function is computed for all
    lags at once from an FFT cross-correlation (window: two periods of ``fmin_hz``). The period is
    the first local minimum in ``[1 / fmax_hz, 1 / fmin_hz]`` below ``YIN_THRESHOLD`` or within
    ``DIP_TOLERANCE`` of the deepest one, refined by parabolic interpolation. Frames whose minimum
    is above ``YIN_THRESHOLD`` are unvoiced: they get the log-F0 interpolated from their voiced
    neighbours (``log(sqrt(fmin_hz * fmax_hz))`` when nothing is voiced).
    """
    rate = config.sample_rate
    factor = max(1, rate // PITCH_RATE)
    if _hop(config) % factor:  # keep pitch frames on the same 10 ms grid as the spectrum
        factor = 1
    low = (np.convolve(wave, _decimation_filter(factor), mode="same")[::factor] if factor > 1
           else wave)
    rate //= factor
    hop = _hop(config) // factor
    lag_min = max(2, int(rate / config.fmax_hz))
    lag_max = int(np.ceil(rate / config.fmin_hz))
    width = 2 * lag_max  # integration window: two periods of the lowest pitch
    padded = _pad_centred(low, width + lag_max + 1, hop, frame_count(len(wave), config))
    frames = np.lib.stride_tricks.sliding_window_view(padded, width + lag_max + 1)[::hop]
    squares = np.concatenate([[0.0], np.cumsum(np.square(padded, dtype=np.float64))])
    windows = np.lib.stride_tricks.sliding_window_view(squares, lag_max + 1)
    energy_at_lag = (windows[width::hop] - windows[:-width:hop][:len(frames)]).astype(np.float32)
    cmnd = _cumulative_mean_normalized_difference(frames, energy_at_lag, width)
    lag, aperiodicity = _pick_period(cmnd, lag_min, lag_max)
    energy = energy_at_lag[:, 0] / width
    voiced = (aperiodicity < YIN_THRESHOLD) & (energy > 1e-8)
    log_f0 = _interpolate_unvoiced(np.log(rate / lag), voiced, config)
    periodicity = np.clip(1.0 - aperiodicity, 0.0, 1.0)
    periodicity[energy <= 1e-8] = 0.0
    return log_f0.astype(np.float32), periodicity.astype(np.float32)


def _hop(config: FeatureConfig) -> int:
    return round(config.sample_rate * config.hop_ms / 1000)


def _win(config: FeatureConfig) -> int:
    return round(config.sample_rate * config.win_ms / 1000)


def _n_fft(config: FeatureConfig) -> int:
    return 1 << (_win(config) - 1).bit_length()  # next power of two, 400 -> 512


def _pad_centred(wave: np.ndarray, length: int, hop: int, count: int) -> np.ndarray:
    """``wave`` zero-padded so that ``count`` frames of ``length`` at ``hop`` are centred on
    samples ``0, hop, 2 * hop, ...``; exactly ``(count - 1) * hop + length`` samples."""
    needed = (count - 1) * hop + length
    padded = np.zeros(needed, dtype=np.float32)
    start = length // 2
    stop = min(len(wave), needed - start)
    padded[start:start + stop] = wave[:stop]
    return padded


def _frames(wave: np.ndarray, length: int, hop: int, count: int) -> np.ndarray:
    """``(count, length)`` frames; frame ``i`` is centred on sample ``i * hop`` (zero padded)."""
    padded = _pad_centred(wave, length, hop, count)
    return np.lib.stride_tricks.sliding_window_view(padded, length)[::hop]


def _power_spectrogram(wave: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``(frames, n_fft // 2 + 1)`` float32 power of the Hann-windowed 25 ms frames."""
    frames = _frames(wave, _win(config), _hop(config), frame_count(len(wave), config))
    spectrum = scipy.fft.rfft(frames * _hann(_win(config)), n=_n_fft(config), axis=1)
    return np.square(spectrum.real) + np.square(spectrum.imag)


def _cumulative_mean_normalized_difference(frames, energy_at_lag, width: int) -> np.ndarray:
    """YIN's d'(lag) for lags ``0..lag_max`` of every frame, ``(n, lag_max + 1)``.

    ``frames`` is ``(n, width + lag_max + 1)``; ``energy_at_lag[i, lag]`` is the energy of
    ``frames[i, lag:lag + width]``.
    """
    lag_max = energy_at_lag.shape[1] - 1
    n_fft = scipy.fft.next_fast_len(frames.shape[1])  # no wrap-around for lags <= lag_max
    head = scipy.fft.rfft(frames[:, :width], n=n_fft, axis=1)
    full = scipy.fft.rfft(frames, n=n_fft, axis=1)
    corr = scipy.fft.irfft(np.conj(head) * full, n=n_fft, axis=1)[:, : lag_max + 1]
    diff = np.maximum(energy_at_lag[:, :1] + energy_at_lag - 2.0 * corr, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, lag_max + 1, dtype=np.float32)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(running, 1e-12)
    return cmnd


def _pick_period(cmnd: np.ndarray, lag_min: int, lag_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional period (in samples) and aperiodicity of every frame."""
    inner = cmnd[:, lag_min:lag_max]
    is_dip = ((inner < cmnd[:, lag_min - 1:lag_max - 1])
              & (inner <= cmnd[:, lag_min + 1:lag_max + 1]))
    # the first dip below the threshold or, in weakly periodic frames, close to the deepest dip
    # (taking the deepest dip itself would often pick twice the period: an octave too low)
    threshold = np.maximum(YIN_THRESHOLD, inner.min(axis=1, keepdims=True) + DIP_TOLERANCE)
    candidates = is_dip & (inner < threshold)
    has_candidate = candidates.any(axis=1)
    index = np.where(has_candidate, candidates.argmax(axis=1), inner.argmin(axis=1)) + lag_min
    rows = np.arange(len(cmnd))
    left, mid, right = cmnd[rows, index - 1], cmnd[rows, index], cmnd[rows, index + 1]
    curvature = left - 2.0 * mid + right
    shift = np.where(curvature > 1e-9, 0.5 * (left - right) / np.maximum(curvature, 1e-9), 0.0)
    return index + np.clip(shift, -0.5, 0.5), mid


def _interpolate_unvoiced(log_f0, voiced, config: FeatureConfig) -> np.ndarray:
    if not voiced.any():
        return np.full(len(log_f0), 0.5 * np.log(config.fmin_hz * config.fmax_hz))
    positions = np.arange(len(log_f0))
    return np.interp(positions, positions[voiced], log_f0[voiced])


def _delta(x: np.ndarray, order: int = 2) -> np.ndarray:
    """HTK regression deltas over +-``order`` frames (edges repeated); ``x`` is (frames, dims)."""
    padded = np.pad(x, ((order, order), (0, 0)), mode="edge")
    n = len(x)
    total = sum(k * (padded[order + k:order + k + n] - padded[order - k:order - k + n])
                for k in range(1, order + 1))
    return total / (2 * sum(k * k for k in range(1, order + 1)))


@functools.lru_cache(maxsize=8)
def _decimation_filter(factor: int) -> np.ndarray:
    """A 31-tap low-pass FIR that keeps what survives decimation by ``factor``."""
    return scipy.signal.firwin(31, 0.9 / factor).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _hann(length: int) -> np.ndarray:
    return scipy.signal.get_window("hann", length).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _mel_basis_cached(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).T.astype(np.float32)


def _mel_basis(config: FeatureConfig) -> np.ndarray:
    """``(n_fft // 2 + 1, n_mels)`` mel filterbank."""
    return _mel_basis_cached(config.sample_rate, _n_fft(config), config.n_mels)


@functools.lru_cache(maxsize=8)
def _dct_basis_cached(n_mels: int, n_mfcc: int) -> np.ndarray:
    dct = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=1)
    return dct[:, :n_mfcc].astype(np.float32)


def _dct_basis(config: FeatureConfig) -> np.ndarray:
    """``(n_mels, n_mfcc)`` orthonormal DCT-II matrix."""
    return _dct_basis_cached(config.n_mels, config.n_mfcc)


PROSODY_COLUMNS = ("log_f0", "periodicity", "log_energy")  # the last 3 dims of kind "mfcc"


def prosody_by_class(features: dict[str, np.ndarray], labels: dict[str, str]) -> dict:
    """Mean of each prosody column over all frames of each class: ``{class: {column: mean}}``.

    ``features`` maps id -> ``(frames, dims)`` features of kind ``"mfcc"`` (raw or normalized);
    ``labels`` maps id -> class name (or any grouping, e.g. speaker). Classes are sorted.
    """
    frames: dict[str, list[np.ndarray]] = {}
    for uid, label in labels.items():
        frames.setdefault(label, []).append(features[uid][:, -3:])
    return {label: dict(zip(PROSODY_COLUMNS, np.concatenate(parts).mean(axis=0).tolist()))
            for label, parts in sorted(frames.items())}
