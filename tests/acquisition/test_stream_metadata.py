"""The application's LSL streams by the XDF meta-data conventions, and EEG in any declared
unit read back as volts. Real LSL outlets and inlets on this machine (loopback).

Known answers: the simulator found with plain mne-lsl calls by type ``EEG`` (LSL compares
types case-sensitively) and its description read back as the conventions spell it (channel
labels, ``EEG``, ``microvolts``, the acquisition and reference nodes); the protocol's marker
stream found by type ``Markers``; and one signal, known in volts, sent in volts, millivolts,
microvolts or nanovolts (in the usual spellings, and mne-lsl's powers of ten), read by an
:class:`~bci_app.acquisition.stream.EEGInput` as the same volts.
"""

import time
import uuid

import numpy as np
import pytest

from bci_app.acquisition.lsl import find_stream, use_loopback
from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.acquisition.stream import EEGInput
from bci_app.protocol.lsl_meta import volts_per_unit

SFREQ = 250.0


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


def _unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _children(node, name):
    """Text of every ``<name>`` child of each ``<channel>`` of ``node`` (``desc/channels``)."""
    values = []
    ch = node.child("channel")
    while not ch.empty():
        values.append(ch.child_value(name))
        ch = ch.next_sibling()
    return values


def _full_info(sinfo):
    """The stream's whole info (a resolved info lacks its description): through an inlet."""
    from mne_lsl.lsl import StreamInlet

    inlet = StreamInlet(sinfo)
    try:
        inlet.open_stream(timeout=20)
        return inlet.get_sinfo(timeout=20)
    finally:
        inlet._del()


def test_simulator_is_found_by_type_EEG_and_describes_itself_by_the_conventions():
    from mne_lsl.lsl import resolve_streams

    with SimulatedAmplifier(name=_unique("meta-sim"), seed=1) as amp:
        # Plain mne-lsl, as any LSL tool would: by type "EEG", case-sensitively.
        deadline = time.monotonic() + 60.0
        found = []
        while not found and time.monotonic() < deadline:
            found = [s for s in resolve_streams(timeout=1.0, stype="EEG") if s.name == amp.name]
        assert len(found) == 1, "the simulator is not found by type 'EEG'"
        assert not [s for s in resolve_streams(timeout=0.5, stype="eeg") if s.name == amp.name]
        info = _full_info(found[0])
        assert (info.stype, info.n_channels, info.sfreq) == ("EEG", len(DEFAULT_CHANNELS),
                                                              SFREQ)
        channels = info.desc.child("channels")
        assert _children(channels, "label") == list(DEFAULT_CHANNELS)
        assert set(_children(channels, "type")) == {"EEG"}
        assert set(_children(channels, "unit")) == {"microvolts"}
        acquisition = info.desc.child("acquisition")
        assert acquisition.child_value("manufacturer") == "bci-app"
        assert acquisition.child_value("model") == "simulated amplifier"
        assert acquisition.child_value("precision") == "32"
        reference = info.desc.child("reference")
        assert (reference.child_value("label"), reference.child_value("subtracted")) == (
            "none", "No")
        assert info.desc.child("cap").child_value("labelscheme") == "10-05"
        # The application still finds it by the legacy type, and reads it in volts.
        assert find_stream(amp.name, "eeg", timeout=20).source_id == amp.source_id
        with EEGInput(amp.name, timeout=20) as eeg:
            chunks, deadline = [], time.monotonic() + 60.0
            while sum(c.data.shape[1] for c in chunks) < SFREQ and \
                    time.monotonic() < deadline:
                chunk = eeg.read(timeout=0.1)
                if chunk is not None:
                    chunks.append(chunk)
        data = np.concatenate([c.data for c in chunks], axis=1)
        assert data.shape[1] >= SFREQ
        assert 1e-7 < np.std(data) < 1e-3  # EEG-sized in volts (the stream: microvolts)


def test_marker_stream_is_found_by_type_Markers_and_describes_itself():
    from mne_lsl.lsl import resolve_streams

    from bci_app.protocol._outlet import MarkerOutlet

    name = _unique("meta-markers")
    outlet = MarkerOutlet(name, f"src-{name}", {"protocol": "Test protocol"})
    outlet.open()
    try:
        deadline = time.monotonic() + 60.0
        found = []
        while not found and time.monotonic() < deadline:
            found = [s for s in resolve_streams(timeout=1.0, stype="Markers")
                     if s.name == name]
        assert len(found) == 1
        info = _full_info(found[0])
        channels = info.desc.child("channels")
        assert _children(channels, "label") == ["marker"]
        assert _children(channels, "type") == ["Markers"]
        assert info.desc.child("acquisition").child_value("manufacturer") == "bci-app"
        assert info.desc.child("acquisition").child_value("model") == "protocol runner"
        assert info.desc.child_value("protocol") == "Test protocol"
    finally:
        outlet.close()


@pytest.mark.parametrize("unit, factor", [
    ("volts", 1.0), ("V", 1.0), ("millivolts", 1e-3), ("microvolts", 1e-6), ("µV", 1e-6),
    ("uV", 1e-6), ("nanovolts", 1e-9), ("nV", 1e-9), ("-6", 1e-6)])
def test_volts_per_unit_knows_the_usual_spellings(unit, factor):
    assert volts_per_unit(unit) == factor


@pytest.mark.parametrize("unit", [None, "", "counts", "kelvin", "2"])
def test_volts_per_unit_leaves_unknown_units_to_the_caller(unit):
    assert volts_per_unit(unit) is None


def _known_signal(n):
    """A known signal in volts, different on each channel: (2, n)."""
    k = np.arange(n)
    return np.vstack([20e-6 * np.sin(2 * np.pi * 10 * k / SFREQ),
                      -35e-6 * np.cos(2 * np.pi * 3 * k / SFREQ) + 5e-6])


def _read_in_volts(unit, stype="EEG", n=250):
    """Send the known signal in ``unit`` (declared in the stream), read it back through an
    EEGInput: (known volts, volts read)."""
    from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

    name = _unique("units")
    info = StreamInfo(name, stype, 2, SFREQ, "float64", name)
    info.set_channel_names(["C3", "C4"])
    info.set_channel_types("EEG")
    info.set_channel_units(unit)
    outlet = StreamOutlet(info, chunk_size=10)
    signal = _known_signal(n)
    sent = signal / volts_per_unit(unit)
    try:
        with EEGInput(name, stype=stype, timeout=20, dejitter=False) as eeg:
            t0 = local_clock()
            for start in range(0, n, 10):
                outlet.push_chunk(np.ascontiguousarray(sent[:, start:start + 10].T),
                                  timestamp=t0 + np.arange(start, start + 10) / SFREQ)
            chunks, deadline = [], time.monotonic() + 60.0
            while sum(c.data.shape[1] for c in chunks) < n and time.monotonic() < deadline:
                chunk = eeg.read(timeout=0.1)
                if chunk is not None:
                    chunks.append(chunk)
    finally:
        outlet._del()
    data = np.concatenate([c.data for c in chunks], axis=1)
    stamps = np.concatenate([c.timestamps for c in chunks])
    index = np.round((stamps - t0) * SFREQ).astype(int)
    assert data.shape == (2, n) and np.array_equal(index, np.arange(n))
    return signal, data


@pytest.fixture(scope="module")
def sent_in_volts():
    """The known signal, and what an EEGInput reads of it sent in volts."""
    signal, in_volts = _read_in_volts("volts")
    np.testing.assert_allclose(in_volts, signal, rtol=1e-12, atol=0)
    return signal, in_volts


@pytest.mark.parametrize("unit", ["microvolts", "µV", "millivolts", "nanovolts", "nV", "-6"])
def test_a_signal_in_any_declared_unit_reads_as_the_same_volts(unit, sent_in_volts):
    signal, in_volts = sent_in_volts
    same, other = _read_in_volts(unit)
    np.testing.assert_array_equal(same, signal)
    np.testing.assert_allclose(other, in_volts, rtol=1e-9, atol=0)


def test_a_legacy_eeg_typed_stream_still_reads():
    signal, data = _read_in_volts("microvolts", stype="eeg")
    np.testing.assert_allclose(data, signal, rtol=1e-9, atol=0)
