"""Calibration runs of the clinical protocol "affected hand vs rest", simulated as the
application records them: the protocol's own schedule and markers (``baseline``,
``fixation``, ``cue_<class>``, the class marker, ``idle`` between trials), the simulated
EEG imagining the hand during its imagery periods and resting everywhere else (a cued rest
trial included)."""

from dataclasses import replace
from pathlib import Path

import mne
import numpy as np

from bci_app.acquisition.simulation import MIEEGGenerator, standard_montage
from bci_app.protocol import build_schedule, load_protocol, marker_annotations
from bci_app.protocol.spec import Timing

PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / "hand_vs_rest.toml"
SFREQ = 100.0


def hand_rest_protocol(trials=6, imagery_s=3.0):
    """The shipped protocol, right hand affected, shortened (same markers and order)."""
    protocol = load_protocol(PROTOCOL, affected_hand="right")
    timing = Timing(baseline_s=6.0, fixation_s=1.0, cue_s=0.5, imagery_s=imagery_s,
                    iti_min_s=1.5, iti_max_s=2.0)
    return replace(protocol, timing=timing, trials_per_class=trials)


def hand_rest_raw(seed=0, trials=6, imagery_s=3.0, skill=1.0):
    """One run as an MNE Raw: annotations from the protocol's markers (class markers named
    after their class, as a recording's BIDS events are)."""
    protocol = hand_rest_protocol(trials, imagery_s)
    steps = build_schedule(protocol, seed=seed)
    gen = MIEEGGenerator(sfreq=SFREQ, skill=skill, seed=seed, artifacts=False)
    chunks, done = [], 0
    for step in steps:
        n = int(round((step.onset_s + step.duration_s) * SFREQ)) - done
        if n <= 0:
            continue
        hand = step.state == "imagery" and step.label != "rest"
        chunks.append(gen.generate(n, step.label if hand else None))
        done += n
    data = np.concatenate(chunks, axis=1)
    info = mne.create_info(list(gen.ch_names), SFREQ, ch_types="eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage(standard_montage(), verbose="error")
    end = data.shape[1] / SFREQ
    events = marker_annotations([(s.onset_s, s.marker) for s in steps], end=end,
                                class_of_marker=protocol.class_of_marker)
    onsets, durations, labels = zip(*[(o, min(d, end - o), lab) for o, d, lab in events
                                      if round(o * SFREQ) < data.shape[1]])  # not run_end
    raw.set_annotations(mne.Annotations(onsets, durations, labels))
    raw.info["line_freq"] = 50.0
    return raw, protocol
