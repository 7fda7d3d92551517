"""Whole runs scored without Qt: a recorded online run (the report) and a sweep (replay)."""

import base64

import numpy as np
import pytest

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding.persistence import TrainedModel
from bci_app.errors import DataError
from bci_app.evaluation.figures import confusion_png, r2_png, timeline_png
from bci_app.evaluation.online_runs import read_predictions, score_recorded_run, sweep_run
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import run_from_raw
from bci_app.evaluation.scoring import score_decisions

PNG = b"\x89PNG"


def _table(tmp_path, onsets, decisions, classes=("idle", "left_hand", "right_hand")):
    path = tmp_path / "sub-01_run-02_predictions.tsv"
    lines = ["onset\tlsl_time\t" + "\t".join(f"p_{c}" for c in classes) + "\tdecision"]
    for t, d in zip(onsets, decisions):
        lines.append(f"{t}\t{t + 100}\t" + "\t".join("0.5" if c == d else "0.25"
                                                    for c in classes) + f"\t{d}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recorded_online_run_is_scored_by_the_one_rule(tmp_path):
    events = [(1.0, 0.0, "run_start"), (1.0, 2.0, "baseline"), (3.0, 1.0, "fixation"),
              (4.0, 3.0, "left_hand"), (7.0, 2.0, "idle"), (9.0, 1.0, "run_end")]
    onsets = np.round(np.arange(1.5, 10.5, 0.25), 6)
    rng = np.random.default_rng(0)
    decisions = rng.choice(["idle", "left_hand", "right_hand"], onsets.size)
    times, dec, proba, classes = read_predictions(_table(tmp_path, onsets, decisions))
    assert classes == ["idle", "left_hand", "right_hand"] and proba.shape == (onsets.size, 3)
    out = score_recorded_run(events, 100.0, times, dec, proba, classes, ["left_hand",
                             "right_hand"], 1.0, 0.25, name="MDM", run_name="run-02")
    expected = score_decisions(events, onsets, decisions, 100, 100.0,
                               ["left_hand", "right_hand"], 0.25)
    assert out["metrics"] == expected.metrics
    assert (out["n_trials"], out["trial_accuracy"]) == (1, expected.trial_accuracy)
    frame = out["frame"]
    assert len(frame) == onsets.size and list(frame.columns[-3:]) == [
        "p_idle", "p_left_hand", "p_right_hand"]
    # windows before run_start + 1 s and from run_end on are not scored: no band drawn
    assert (frame["true"][(onsets < 2.0) | (onsets >= 9.0)] == "").all()
    assert base64.b64decode(timeline_png(frame, "run 2")).startswith(PNG)
    assert base64.b64decode(confusion_png(out["metrics"], "confusion")).startswith(PNG)
    with pytest.raises(DataError, match="no decision fell in a scored period"):
        score_recorded_run(events, 100.0, times[:2], dec[:2], proba[:2], classes,
                           ["left_hand", "right_hand"], 1.0, 0.25, run_name="run-02")
    (tmp_path / "empty.tsv").write_text("onset\tdecision\n")
    with pytest.raises(DataError, match="no decision was recorded"):
        read_predictions(tmp_path / "empty.tsv")


def test_r2_map_figure():
    png = r2_png(np.linspace(-0.2, 0.3, 12).reshape(3, 4), np.arange(8, 12),
                 ["C3", "Cz", "C4"], ["left_hand", "right_hand"])
    assert base64.b64decode(png).startswith(PNG)


@pytest.fixture(scope="module")
def trained_and_recording(models_dir):
    from bci_app.decoding.loading import read_model_file
    from bci_app.online.training import train_decoder

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=6, imagery=3.0, seed=2),
                          skill=1.0, seed=2, artifacts=False)
    spec = read_model_file(models_dir / "mdm.yml")
    model, report = train_decoder(spec.pipeline, [run_from_raw(raw)],
                                  PseudoOnlineConfig(window_s=1.0, step_s=0.1))
    trained = TrainedModel(model, "MDM", raw.info["sfreq"], raw.ch_names, window_s=1.0,
                           step_s=0.1, trained_on=report)
    return trained, raw


def test_sweep_of_a_recording(trained_and_recording):
    trained, raw = trained_and_recording
    result = sweep_run(trained, run_from_raw(raw, name="rec"))
    m = result["metrics"]
    assert result["n_windows"] > 100 and m["nmcc"] > 0.6
    assert m["classes"] == ["idle", "left_hand", "right_hand"]
    assert result["n_trials"] == 12 and result["trial_accuracy"] > 0.8
    assert np.sum(m["confusion"]) == result["score"].windows
    assert base64.b64decode(result["timeline_png"]).startswith(PNG)
    # A recording without task events: swept, not scored.
    rest = raw.copy().set_annotations(None)
    assert sweep_run(trained, run_from_raw(rest, name="rest"))["metrics"] is None


def test_sweep_refuses_a_recording_the_decoder_cannot_read(trained_and_recording):
    trained, raw = trained_and_recording
    with pytest.raises(DataError, match="missing from the recording"):
        sweep_run(trained, run_from_raw(raw.copy().drop_channels([raw.ch_names[0]])))
    with pytest.raises(DataError, match="the decoder needs"):
        sweep_run(trained, run_from_raw(raw.copy().resample(128.0, verbose="error")))
