"""Synthetic motor-imagery EEG: a generator with state, usable chunk by chunk or for whole runs.

The same :class:`MIEEGGenerator` drives the simulated amplifier (live, chunk by chunk) and the
synthetic MOABB dataset used by the demo and the tests (whole runs), so a model trained on one
works on the other.

Signal model (volts, per channel)
---------------------------------
- 1/f ("pink") background, independent per channel, ~10 uV RMS;
- an occipito-parietal alpha rhythm (10 Hz) and, over each sensorimotor area (left hand area
  under C3, right hand area under C4, feet under Cz), a mu (11 Hz) and a beta (22 Hz) rhythm,
  each a narrow-band source spread to the electrodes by a Gaussian of the scalp distance;
- 50 Hz line noise; occasional blinks (frontal, ~150 uV) and muscle bursts (broadband, temporal);
- during imagery of a class, the mu/beta power of the contralateral area drops
  (event-related desynchronisation) by ``erd_depth * skill`` (left hand -> right area, C4;
  right hand -> left area, C3; feet -> vertex, Cz), with a 0.5 s onset ramp.
"""

import mne
import numpy as np
from scipy.signal import butter, lfilter, sosfilt, sosfilt_zi

from ..errors import ConfigError
from .montages import DEFAULT_CHANNELS

#: Imagery classes the generator knows, and the cortical area each one desynchronises.
CLASS_AREAS = {"left_hand": "right", "right_hand": "left", "feet": "vertex"}

_AREA_CENTRE = {"left": "C3", "right": "C4", "vertex": "Cz"}
_ALPHA_CENTRE = ("POz", "Oz", "Pz")
#: RMS of the unscaled pink-noise filter bank driven by unit white noise (measured).
_PINK_RMS = 2.79


def standard_montage():
    """The standard 10-05 montage (named ``colin27_1005`` in recent MNE)."""
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() \
        else "standard_1005"
    return mne.channels.make_standard_montage(name)


def _positions(ch_names):
    pos = standard_montage().get_positions()["ch_pos"]
    lower = {k.lower(): v for k, v in pos.items()}
    missing = [c for c in ch_names if c.lower() not in lower]
    if missing:
        raise ConfigError(
            f"simulated EEG: channels {missing} are not in the standard 10-05 montage; "
            "use standard electrode names (e.g. C3, Cz, C4)."
        )
    return np.array([lower[c.lower()] for c in ch_names])


def _spread(positions, centre, width=0.03):
    d = np.linalg.norm(positions - centre, axis=1)
    return np.exp(-(d**2) / (2 * width**2))


class MIEEGGenerator:
    """Generate motor-imagery EEG chunk by chunk, with continuous state.

    Parameters
    ----------
    ch_names : sequence of str
        Standard 10-05 channel names.
    sfreq : float
        Sampling rate in Hz.
    skill : float
        Subject skill in [0, 1]: scales how deep the imagery ERD is.
    erd_depth : float
        Fractional power drop of the imagined area's mu/beta rhythm at ``skill=1``.
    line_freq : float | None
        Mains frequency in Hz (None: no line noise).
    artifacts : bool
        Add occasional blinks and muscle bursts.
    seed : int | None
        Seed of the random generator (same seed, same signal).
    """

    def __init__(self, ch_names=DEFAULT_CHANNELS, sfreq=250.0, skill=0.8, erd_depth=0.7,
                 line_freq=50.0, artifacts=True, seed=None):
        if not 0 <= skill <= 1:
            raise ConfigError(f"simulated EEG: skill must be in [0, 1], got {skill}.")
        if sfreq <= 0:
            raise ConfigError(f"simulated EEG: sfreq must be positive, got {sfreq}.")
        self.ch_names = list(ch_names)
        self.sfreq = float(sfreq)
        self.skill = float(skill)
        self.erd_depth = float(erd_depth)
        self.line_freq = line_freq
        self.artifacts = artifacts
        self._rng = np.random.default_rng(seed)
        pos = _positions(self.ch_names)
        names = {c.lower(): i for i, c in enumerate(self.ch_names)}
        montage_pos = standard_montage().get_positions()["ch_pos"]
        # Sources: (name, band, centre position, amplitude in volts)
        self._sources = []
        for area, centre in _AREA_CENTRE.items():
            for band, freq, amp in (("mu", 11.0, 9e-6), ("beta", 22.0, 4e-6)):
                self._sources.append((f"{area}-{band}", area, freq, montage_pos[centre], amp))
        alpha_centre = next(montage_pos[c] for c in _ALPHA_CENTRE if c in montage_pos)
        self._sources.append(("alpha", None, 10.0, alpha_centre, 7e-6))
        self._mixing = np.stack([_spread(pos, s[3], 0.035) for s in self._sources], axis=1)
        nyq = self.sfreq / 2
        self._sos = []
        self._zi = []
        for _, _, freq, _, _ in self._sources:
            lo, hi = (freq - 1.5) / nyq, min((freq + 1.5) / nyq, 0.99)
            sos = butter(2, [lo, hi], btype="band", output="sos")
            self._sos.append(sos)
            self._zi.append(sosfilt_zi(sos) * 0.0)
        # Pink noise by a bank of first-order low-pass filters (Voss-like, continuous state).
        self._pink_poles = np.array([0.99886, 0.99332, 0.96900, 0.86650, 0.55000, -0.7616])
        self._pink_gains = np.array([0.0555179, 0.0750759, 0.1538520, 0.3104856, 0.5329522,
                                     -0.0168980])
        self._pink_state = np.zeros((len(self.ch_names), len(self._pink_poles)))
        self._t = 0  # samples generated so far
        self._area_gain = {area: 1.0 for area in _AREA_CENTRE}
        self._frontal = np.array([1.0 if c.lower().startswith(("fp", "af", "f")) else 0.1
                                  for c in self.ch_names])
        self._temporal = np.array([1.0 if c.lower().startswith(("t", "ft", "tp")) or
                                   c.lower() in ("c5", "c6", "cp5", "cp6", "fc5", "fc6")
                                   else 0.2 for c in self.ch_names])
        self._names = names

    def _pink(self, n):
        """Pink (1/f) noise, ~8 uV RMS per channel, continuous across calls."""
        white = self._rng.standard_normal((len(self.ch_names), n))
        total = 0.05 * white
        for k, (p, g) in enumerate(zip(self._pink_poles, self._pink_gains)):
            y, zf = lfilter([g], [1.0, -p], white, axis=1, zi=self._pink_state[:, k:k + 1])
            self._pink_state[:, k] = zf[:, 0]
            total += y
        return total * (8e-6 / _PINK_RMS)

    def generate(self, n_samples, label=None):
        """Generate the next ``n_samples`` samples.

        Parameters
        ----------
        n_samples : int
            Number of samples.
        label : str | None
            The class being imagined during these samples (a key of :data:`CLASS_AREAS`),
            or None for rest.

        Returns
        -------
        data : ndarray, shape (n_channels, n_samples)
            EEG in volts.
        """
        if label is not None and label not in CLASS_AREAS:
            raise ConfigError(f"simulated EEG: unknown class {label!r}; known: "
                              f"{sorted(CLASS_AREAS)} or None for rest.")
        n = int(n_samples)
        data = self._pink(n)
        # Target gain per area, approached with a 0.5 s time constant (onset ramp).
        target = {area: 1.0 for area in _AREA_CENTRE}
        if label is not None:
            target[CLASS_AREAS[label]] = 1.0 - self.erd_depth * self.skill
        tau = 0.5 * self.sfreq
        ramp = 1.0 - np.exp(-np.arange(1, n + 1) / tau)
        gains = {}
        for area in _AREA_CENTRE:
            g0 = self._area_gain[area]
            gains[area] = g0 + (target[area] - g0) * ramp
            self._area_gain[area] = gains[area][-1]
        for k, (name, area, _freq, _c, amp) in enumerate(self._sources):
            white = self._rng.standard_normal(n)
            if not np.any(self._zi[k]):
                self._zi[k] = sosfilt_zi(self._sos[k]) * white[0]
            band, self._zi[k] = sosfilt(self._sos[k], white, zi=self._zi[k])
            band *= amp / 0.12  # unit-variance white noise through a 3 Hz band
            if area is not None:
                band = band * np.sqrt(np.clip(gains[area], 0.0, None))
            data += np.outer(self._mixing[:, k], band)
        t = (self._t + np.arange(n)) / self.sfreq
        if self.line_freq:
            data += 3e-6 * np.sin(2 * np.pi * self.line_freq * t)[None, :]
        if self.artifacts:
            self._add_artifacts(data, n)
        self._t += n
        return data

    def _add_artifacts(self, data, n):
        seconds = n / self.sfreq
        if self._rng.random() < 0.05 * seconds:  # ~3 blinks per minute
            width = int(0.3 * self.sfreq)
            start = self._rng.integers(0, max(1, n - width))
            shape = np.hanning(width)[: n - start]
            data[:, start:start + len(shape)] += np.outer(self._frontal, 150e-6 * shape)
        if self._rng.random() < 0.02 * seconds:  # ~1 muscle burst per minute
            width = min(n, int(0.5 * self.sfreq))
            start = self._rng.integers(0, max(1, n - width + 1))
            burst = self._rng.standard_normal(width) * 20e-6 * np.hanning(width)
            data[:, start:start + width] += np.outer(self._temporal, burst)


def make_trial_schedule(classes=("left_hand", "right_hand"), n_trials_per_class=20,
                        rest=(2.0, 3.0), imagery=4.0, seed=None):
    """A randomised trial schedule: rest (jittered), then imagery of one class.

    Returns
    -------
    schedule : list of (label, duration_s)
        ``label`` None for rest.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(list(classes), n_trials_per_class)
    rng.shuffle(labels)
    schedule = []
    for label in labels:
        schedule.append((None, float(rng.uniform(*rest))))
        schedule.append((str(label), float(imagery)))
    schedule.append((None, float(rest[1])))
    return schedule


def simulate_mi_raw(schedule, ch_names=DEFAULT_CHANNELS, sfreq=250.0, skill=0.8, seed=None,
                    **kwargs):
    """A whole synthetic run as an MNE Raw with one annotation per imagery period.

    Parameters
    ----------
    schedule : list of (label, duration_s)
        From :func:`make_trial_schedule`.
    ch_names, sfreq, skill, seed, **kwargs
        Passed to :class:`MIEEGGenerator`.

    Returns
    -------
    raw : mne.io.RawArray
        EEG in volts with the standard 10-05 montage; annotations named after the classes,
        and ``"rest"`` for rest periods.
    """
    gen = MIEEGGenerator(ch_names=ch_names, sfreq=sfreq, skill=skill, seed=seed, **kwargs)
    chunks, onsets, durations, descriptions = [], [], [], []
    t = 0.0
    n_done = 0
    for label, duration in schedule:
        n = int(round((t + duration) * sfreq)) - n_done
        chunks.append(gen.generate(n, label))
        onsets.append(n_done / sfreq)
        durations.append(n / sfreq)
        descriptions.append(label if label is not None else "rest")
        n_done += n
        t += duration
    info = mne.create_info(list(ch_names), sfreq, ch_types="eeg")
    raw = mne.io.RawArray(np.concatenate(chunks, axis=1), info, verbose="error")
    raw.set_montage(standard_montage(), verbose="error")
    raw.set_annotations(mne.Annotations(onsets, durations, descriptions))
    return raw
