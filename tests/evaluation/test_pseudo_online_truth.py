"""The pseudo-online ground truth on real EEG (PhysioNet subject 1) is the recording's own.

The EDF files are read directly here (mne.io.read_raw_edf: T0 rest, T1/T2 cues and their
durations) and each window is labelled by a plain sample count written below; the
evaluation's truth (what it writes in predictions.csv and scores) must be the same. The
evaluation's calibration windows must lie in the EDF's periods too, and its runs must be in
acquisition order. The model is a constant one: the truth does not depend on it.
"""

import mne
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from bci_app.errors import DataError
from bci_app.evaluation.datasets import resolve_dataset
from bci_app.evaluation.pseudo_online import evaluate_session
from bci_app.evaluation.recordings import dataset_sessions
from bci_app.processing.calibration import PseudoOnlineConfig

pytestmark = pytest.mark.realdata

HANDS = {"T0": "idle", "T1": "left_hand", "T2": "right_hand"}
FEET = {"T0": "idle", "T1": "hands", "T2": "feet"}
WINDOW, STEP = 320, 80  # 2 s and 0.5 s at 160 Hz


class Constant(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile((self.classes_ == "idle").astype(float), (len(X), 1))


def _edf(path, names):
    """The EDF's class of each sample (later annotations win), its annotations and sfreq."""
    raw = mne.io.read_raw_edf(path, verbose="error")
    sfreq = raw.info["sfreq"]
    samples = np.full(raw.n_times, "idle", dtype=object)
    spans = []
    for onset, duration, label in zip(raw.annotations.onset, raw.annotations.duration,
                                      raw.annotations.description):
        a, b = int(round(onset * sfreq)), int(round((onset + duration) * sfreq))
        samples[a:b] = names[label]
        spans.append((a, b, names[label]))
    return samples, spans


def _majority(samples, first, last):
    """The most frequent class of samples first..last, a tie going to the later class."""
    part = list(samples[first:last + 1])
    counts = {c: part.count(c) for c in set(part)}
    best = [c for c, n in counts.items() if n == max(counts.values())]
    return next(c for c in reversed(part) if c in best)


@pytest.fixture
def left_right(mne_data):
    ds = resolve_dataset("PhysionetMI", [1], "left-right")
    ((_, runs),) = list(dataset_sessions(ds, 1))
    pred, metrics, cal = evaluate_session(runs, {"constant": Constant()},
                                          PseudoOnlineConfig(window_s=2.0, step_s=0.5))
    return runs, pred, metrics, cal


def test_window_truth_is_the_edf_annotations(left_right):
    runs, pred, metrics, _ = left_right
    source = {r.name: r.source for r in runs}
    assert [source[n].rsplit("/", 1)[-1] for n in pred["run"].unique()] == [
        "S001R08.edf", "S001R12.edf"]  # R04 calibrates
    n_differ_from_3s = 0
    for name, part in pred.groupby("run"):
        samples, spans = _edf(source[name], HANDS)
        expected = [_majority(samples, a, b)
                    for a, b in zip(part["first_sample"], part["last_sample"])]
        assert list(part["true"]) == expected
        assert len(part) == (samples.size - WINDOW) // STEP + 1  # every window of the run
        # MOABB's 3 s events would label some of these windows otherwise
        short = np.full(samples.size, "idle", dtype=object)
        for a, _, label in spans:
            short[a:a + 3 * 160] = label
        n_differ_from_3s += sum(_majority(short, a, b) != e for a, b, e in
                                zip(part["first_sample"], part["last_sample"], expected))
    assert n_differ_from_3s > 0
    n_artifact = int((pred["decision"] == "artifact").sum())  # the EDFs' zero padding
    assert pred["scored"].all() and metrics[0]["n_artifact"] == n_artifact
    assert metrics[0]["n_windows"] + n_artifact == len(pred)


def test_calibration_windows_lie_in_the_edf_periods(left_right):
    runs, _, _, cal = left_right
    assert set(cal["run_index"]) == {0} and runs[0].source.endswith("S001R04.edf")
    _, spans = _edf(runs[0].source, HANDS)
    trials = [(a, b, lab) for a, b, lab in spans if lab != "idle"]
    # from 0.5 s after each cue, every 0.5 s, windows ending by the end of the 4.1 s cue: 4
    expected = {c: sum((b - (a + STEP) - WINDOW) // STEP + 1 for a, b, lab in trials
                       if lab == c) for c in ("left_hand", "right_hand")}
    assert {c: 4 * sum(lab == c for *_, lab in trials) for c in expected} == expected
    counts = cal["label"].value_counts().to_dict()
    assert {c: counts[c] for c in expected} == expected
    assert counts["idle"] == max(expected.values())  # idle thinned to the largest class
    for start, stop, label in cal[["start", "stop", "label"]].itertuples(index=False):
        inside = [lab for a, b, lab in spans if a < stop and start < b]
        assert set(inside) == {label}, (start, stop, label, inside)  # no imagery in idle


def test_hands_and_feet_runs_in_acquisition_order(mne_data):
    folder = mne_data / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    if not all((folder / f"S001R{r:02d}.edf").is_file() for r in (6, 10, 14)):
        pytest.skip(f"PhysioNet subject 1's hands/feet runs (6, 10, 14) not in {folder}")
    ds = resolve_dataset("PhysionetMI", [1], "left-right-feet")
    ((_, runs),) = list(dataset_sessions(ds, 1))
    cfg = PseudoOnlineConfig(classes=("left_hand", "right_hand", "feet"), window_s=2.0,
                             step_s=0.5, calibration_runs=1)
    with pytest.raises(DataError) as err:  # R04 has no feet; R06, R10 and R14 have
        evaluate_session(runs, {"constant": Constant()}, cfg)
    file_of = {r.name: r.source.rsplit("/", 1)[-1][4:7] for r in runs}
    feet_runs = [n for n in sorted(file_of, key=file_of.get) if file_of[n] in
                 ("R06", "R10", "R14")]
    assert f"no window of class(es) ['feet'], which the test run(s) contain (feet: runs " \
           f"{feet_runs})" in str(err.value)
    assert "--calibration-runs 2" in str(err.value)
    cfg.calibration_runs = 2
    pred, metrics, cal = evaluate_session(runs, {"constant": Constant()}, cfg)
    order = sorted(file_of, key=file_of.get)  # R04, R06, R08, R10, R12, R14
    assert [file_of[n] for n in pred["run"].unique()] == ["R08", "R10", "R12", "R14"]
    assert set(cal["run_index"]) == {0, 1}
    assert [file_of[order[i]] for i in (0, 1)] == ["R04", "R06"]
    assert metrics[0]["classes"] == ["idle", "left_hand", "right_hand", "feet"]
    # the feet runs' "hands" cues are not scored; their feet cues are, as in the EDF
    for name, part in pred.groupby("run"):
        run = next(r for r in runs if r.name == name)
        samples, _ = _edf(run.source, FEET if file_of[name] in ("R10", "R14") else HANDS)
        samples[samples == "hands"] = None
        expected = [_majority(samples, a, b)
                    for a, b in zip(part["first_sample"], part["last_sample"])]
        assert [t if ok else None for t, ok in zip(part["true"], part["scored"])] == expected
