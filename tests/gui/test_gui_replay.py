"""Replay: real-time replay through the signal views, and a pseudo-online sweep."""

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding.loading import read_model_file
from bci_app.decoding.persistence import TrainedModel
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import run_from_raw
from bci_app.online.training import train_decoder

from bci_app.gui.views.replay import parse_event_map


def _recording(tmp_path):
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=6, imagery=3.0, seed=2),
                          skill=1.0, seed=2, artifacts=False)
    path = tmp_path / "rec_raw.fif"
    raw.save(path, verbose="error")
    return raw, path


def test_sweep_and_real_time_replay(window, qtbot, tmp_path, shot, models_dir, wait_until):
    raw, path = _recording(tmp_path)
    spec = read_model_file(models_dir / "mdm.yml")
    model, report = train_decoder(spec.pipeline, [run_from_raw(raw)],
                                  PseudoOnlineConfig(window_s=1.0, step_s=0.1))
    c = window.controller
    c.trained = TrainedModel(model, "MDM", 250.0, raw.ch_names, window_s=1.0, step_s=0.1,
                             trained_on=report)
    view = window.show_step("Replay")
    view.file.setText(str(path))
    with qtbot.waitSignal(view._swept, timeout=60000):
        view.sweep_button.click()
    m = view.last_sweep["metrics"]
    assert view.last_sweep["n_windows"] > 100 and m["nmcc"] > 0.6
    assert f"trials {view.last_sweep['score'].trials_correct}/12" in view.status.text()
    assert not view.timeline.pixmap().isNull()
    with qtbot.waitSignal(c.sourceReady, timeout=60000):
        view.play_button.click()
    wait_until(lambda: view.signal.traces.frames > 5, what="replayed traces")
    assert c.acq.ch_names == raw.ch_names
    shot(window, "7_replay")
    view.stop_button.click()
    assert c.replay is None


def test_event_map_parsing():
    assert parse_event_map("T1=left_hand, T2=right_hand") == {"T1": "left_hand",
                                                              "T2": "right_hand"}
    assert parse_event_map("  ") is None
    import pytest

    with pytest.raises(ValueError, match="ANNOTATION=CLASS"):
        parse_event_map("T1")
