"""The online decoder's prediction stream describes itself by the XDF meta-data conventions.

Real streams on this machine (loopback): the simulated amplifier, an
:class:`~bci_app.online.live.OnlineDecoder` publishing its predictions, and plain mne-lsl
calls (as any LSL tool) finding that stream by its type and reading its description back.
"""

import time
import uuid

import numpy as np
import pytest

from bci_app.acquisition.lsl import use_loopback
from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.acquisition.stream import EEGInput
from bci_app.online.engine import WindowedDecoder
from bci_app.online.live import ARTIFACT_CODE, OnlineDecoder

SFREQ = 250.0
CLASSES = ["idle", "left_hand", "right_hand"]


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


def _fitted_model():
    """A small real classifier of windows (covariances + MDM), fitted on random windows."""
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, len(DEFAULT_CHANNELS), 250)) * 1e-5
    y = np.repeat(CLASSES, 4)
    return make_pipeline(Covariances("oas"), MDM()).fit(X, y)


def _channel_values(desc, name):
    values, ch = [], desc.child("channels").child("channel")
    while not ch.empty():
        values.append(ch.child_value(name))
        ch = ch.next_sibling()
    return values


def test_prediction_stream_is_typed_and_described(tmp_path):
    from mne_lsl.lsl import StreamInlet, resolve_streams

    name = f"pred-meta-{uuid.uuid4().hex[:8]}"
    with SimulatedAmplifier(name=name, seed=1, artifacts=False):
        eeg = EEGInput(name, channels=list(DEFAULT_CHANNELS), sfreq=SFREQ, timeout=20)
        decoder = WindowedDecoder(_fitted_model(), SFREQ, list(DEFAULT_CHANNELS), 1.0, 0.25)
        with OnlineDecoder(decoder, eeg, log_dir=tmp_path / "log", publish=f"{name}-pred"):
            found, deadline = [], time.monotonic() + 60.0
            while not found and time.monotonic() < deadline:
                found = [s for s in resolve_streams(timeout=1.0, stype="Predictions")
                         if s.name == f"{name}-pred"]
            assert len(found) == 1
            inlet = StreamInlet(found[0])
            try:
                inlet.open_stream(timeout=20)
                info = inlet.get_sinfo(timeout=20)
            finally:
                inlet._del()
    labels = [f"p_{c}" for c in CLASSES] + ["decision"]
    assert _channel_values(info.desc, "label") == labels
    assert _channel_values(info.desc, "type") == ["Probability"] * 3 + ["Decision"]
    assert _channel_values(info.desc, "unit") == ["none"] * 4
    acquisition = info.desc.child("acquisition")
    assert (acquisition.child_value("manufacturer"), acquisition.child_value("model")) == (
        "bci-app", "online decoder")
    assert info.desc.child_value("classes") == ",".join(CLASSES)
    assert info.desc.child_value("artifact_code") == str(ARTIFACT_CODE)
    assert info.desc.child_value("eeg_stream") == name
