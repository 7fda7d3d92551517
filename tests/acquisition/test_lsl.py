"""LSL configuration and stream discovery, on real LSL kept on the loopback interface.

A stream must answer within the listening time to be listed: tests that expect the
amplifier in a listing listen for ``LISTEN`` seconds, ample on a loaded machine (an answer
on loopback takes milliseconds); tests that expect absence may listen briefly.
"""

import os
import uuid
from pathlib import Path

import pytest

from bci_app.acquisition import lsl
from bci_app.acquisition.lsl import (
    LOOPBACK_CONFIG,
    StreamDescription,
    find_stream,
    list_streams,
    use_loopback,
)
from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.errors import StreamError

LISTEN = 2.0  # seconds of listening when the amplifier must be in the answers


@pytest.fixture(scope="module", autouse=True)
def loopback():
    """Keep every stream of this module on this machine (before any LSL operation)."""
    return use_loopback()


@pytest.fixture(scope="module")
def amplifier(loopback):
    # A unique name: other processes on the machine may run the same tests.
    amp = SimulatedAmplifier(name=f"test-lsl-{uuid.uuid4().hex[:8]}", seed=0)
    with amp:
        yield amp


def _unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_loopback_config_keeps_lsl_on_this_machine():
    lines = [line.strip() for line in LOOPBACK_CONFIG.splitlines() if line.strip()]
    assert lines == [
        "[ports]", "IPv6 = disable",
        "[multicast]", "ResolveScope = machine", "AddressesOverride = {239.255.172.215}",
        "TTLOverride = 0", "Interfaces = {127.0.0.1}",
        "[lab]", "KnownPeers = {127.0.0.1}",
        "[log]", "level = -2",
    ]


def test_use_loopback_sets_lslapicfg_for_child_processes(loopback):
    if loopback is None:
        pytest.skip("the user's own LSL configuration is in use")
    assert os.environ["LSLAPICFG"] == str(loopback)
    assert Path(loopback).read_text() == LOOPBACK_CONFIG
    assert use_loopback() == loopback  # idempotent


def test_use_loopback_leaves_the_users_config(monkeypatch, tmp_path):
    lab = tmp_path / "lab.cfg"
    lab.write_text("[multicast]\nResolveScope = site\n")
    monkeypatch.setenv("LSLAPICFG", str(lab))
    assert use_loopback() is None
    assert os.environ["LSLAPICFG"] == str(lab)
    # force=True overrides it (liblsl is already configured in this process: harmless).
    path = use_loopback(force=True)
    assert os.environ["LSLAPICFG"] == str(path)
    assert path.read_text() == LOOPBACK_CONFIG


def test_use_loopback_leaves_an_lsl_api_cfg_file(monkeypatch, tmp_path):
    monkeypatch.delenv("LSLAPICFG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lsl_api.cfg").write_text("[multicast]\nResolveScope = site\n")
    assert use_loopback() is None
    assert "LSLAPICFG" not in os.environ


def test_list_streams_describes_the_amplifier(amplifier):
    streams = {s.name: s for s in list_streams(timeout=LISTEN)}
    assert amplifier.name in streams
    found = streams[amplifier.name]
    assert isinstance(found, StreamDescription)
    assert found.stype == "EEG"
    assert found.n_channels == len(DEFAULT_CHANNELS)
    assert found.sfreq == 250.0
    assert found.source_id == amplifier.source_id
    assert found.dtype == "float32"
    assert found.hostname and found.uid
    assert amplifier.name in str(found)
    # type filter, case-insensitive (legacy "eeg" still finds it); markers are not EEG
    assert amplifier.name in {s.name for s in list_streams(timeout=LISTEN, stype="eeg")}
    assert amplifier.name not in {s.name for s in list_streams(timeout=0.5, stype="Markers")}


def test_find_stream_by_name(amplifier):
    found = find_stream(amplifier.name, timeout=60.0)
    assert found.name == amplifier.name
    assert found.n_channels == 22 and found.sfreq == 250.0
    assert found.sinfo is not None and found.sinfo.name == amplifier.name


def test_find_stream_missing_names_what_was_found(amplifier):
    missing = _unique("no-such-stream")
    with pytest.raises(StreamError) as info:
        find_stream(missing, timeout=LISTEN)
    message = str(info.value)
    assert missing in message
    assert amplifier.name in message  # the streams that were found are listed
    assert "LSLAPICFG" in message  # and what to check


def test_find_stream_wrong_type_names_what_was_found(amplifier):
    with pytest.raises(StreamError, match=amplifier.name):
        find_stream(amplifier.name, stype="Markers", timeout=LISTEN)


def test_find_stream_duplicate_names_raise(loopback):
    """Two streams of the same name: the error lists each with its source id and host, and
    says to choose by source id; the source id chooses."""
    from mne_lsl.lsl import StreamInfo, StreamOutlet

    name = _unique("dup")
    outlets = [StreamOutlet(StreamInfo(name, "eeg", 2 + k, 100.0, "float32", f"dup{k}"))
               for k in range(2)]
    try:
        with pytest.raises(StreamError, match="2 streams") as info:
            find_stream(name, timeout=5.0)
        message = str(info.value)
        assert "source_id 'dup0'" in message and "source_id 'dup1'" in message
        assert "Choose one by its source id" in message
        chosen = find_stream(name, timeout=30.0, source_id="dup1")
        assert (chosen.source_id, chosen.n_channels) == ("dup1", 3)
        assert chosen.hostname in message
        assert [d.source_id for d in lsl.find_streams(name, timeout=30.0)] in (
            ["dup0", "dup1"], ["dup1", "dup0"])
    finally:
        for outlet in outlets:
            outlet._del()


def test_find_stream_unknown_source_id_names_what_was_found(amplifier):
    with pytest.raises(StreamError) as info:
        find_stream(amplifier.name, timeout=LISTEN, source_id="no-such-id")
    message = str(info.value)
    assert "source id 'no-such-id'" in message
    assert f"source_id {amplifier.source_id!r}" in message


def test_find_stream_matches_the_type_in_any_case_and_waits_for_it(loopback):
    import threading

    from mne_lsl.lsl import StreamInfo, StreamOutlet

    name = _unique("late")
    outlets = []
    timer = threading.Timer(1.0, lambda: outlets.append(
        StreamOutlet(StreamInfo(name, "EEG", 4, 500.0, "float32", name))))
    timer.start()
    try:
        found = find_stream(name, stype="eeg", timeout=30.0)
        assert (found.name, found.stype, found.n_channels) == (name, "EEG", 4)
    finally:
        timer.join()
        for outlet in outlets:
            outlet._del()


def test_bad_timeout_raises():
    with pytest.raises(StreamError, match="timeout"):
        list_streams(timeout=0)
    with pytest.raises(StreamError, match="timeout"):
        find_stream("x", timeout=-1)


def test_loopback_path_is_per_user():
    path = lsl._loopback_path()
    assert path.name == "lsl_api_loopback.cfg"
    assert path.parent.name.startswith("bci_app-")
