"""Transfer in the pseudo-online evaluation: sources matched to the target, domains routed to
the re-centring step, learning curves with a fixed test part, the CLI commands."""

import json
from dataclasses import replace

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.cli import main
from bci_app.decoding import FastMDM, Recenter, ShrunkCovariances
from bci_app.errors import DataError
from bci_app.evaluation.pseudo_online import evaluate_session
from bci_app.evaluation.transfer import subject_sources, trials_for
from bci_app.processing.calibration import PseudoOnlineConfig, source_windows
from bci_app.processing.runs import run_from_raw

#: A model file re-centring covariances before MDM, adapting online.
RC_MDM = """name: RC+MDM
paradigms: [LeftRightImagery]
pipeline:
  - {name: ShrunkCovariances, from: bci_app.decoding}
  - {name: Recenter, from: bci_app.decoding, parameters: {adapt: 20}}
  - {name: FastMDM, from: bci_app.decoding}
"""


def _runs(subject, n=3, mix=None):
    out = []
    for k in range(n):
        seed = 10 * subject + k
        run = run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=seed),
                                           sfreq=128.0, seed=seed, skill=0.9),
                           name=f"s{subject}r{k}")
        out.append(run if mix is None else replace(run, data=mix @ run.data))
    return out


@pytest.fixture(scope="module")
def shifted_target():
    """A subject seen through a fixed SPD mixing of its channels (another head, other
    electrode impedances): the domain shift re-centring undoes."""
    runs = _runs(1)
    rng = np.random.default_rng(0)
    c = len(runs[0].ch_names)
    S = 0.12 * rng.standard_normal((c, c))
    w, V = np.linalg.eigh(S + S.T)
    mix = (V * np.exp(w)) @ V.T
    return [replace(r, data=mix @ r.data) for r in runs]


def test_recentring_makes_shifted_sources_usable(shifted_target):
    cfg = PseudoOnlineConfig(step_s=0.5, calibration_runs=0, calibration_trials=6)
    target = shifted_target
    sources = [source_windows(f"s{s}", _runs(s), cfg, target[0].sfreq, target[0].ch_names)
               for s in (2, 3)]
    pipes = {"MDM": make_pipeline(ShrunkCovariances(), FastMDM()),
             "RC+MDM": make_pipeline(ShrunkCovariances(), Recenter(), FastMDM())}
    _, within, _ = evaluate_session(target, pipes, cfg)
    _, transfer, _ = evaluate_session(target, pipes, cfg, sources=sources)
    within = {m["pipeline"]: m for m in within}
    transfer = {m["pipeline"]: m for m in transfer}
    assert transfer["RC+MDM"]["n_source_windows"] == sum(len(s.y) for s in sources)
    assert transfer["RC+MDM"]["sources"] == "s2, s3"
    assert within["RC+MDM"]["n_source_windows"] == 0
    # pooled as they are, the sources sit elsewhere on the manifold: the decoder collapses
    assert transfer["MDM"]["nmcc"] < 0.55
    # re-centred, they help: better than pooling, at least as good as the target alone
    assert transfer["RC+MDM"]["nmcc"] > transfer["MDM"]["nmcc"] + 0.2
    assert transfer["RC+MDM"]["nmcc"] >= within["RC+MDM"]["nmcc"]
    # without adaptation and without sources, re-centring changes nothing for MDM
    # (affine invariance of the Riemannian distance)
    assert within["RC+MDM"]["nmcc"] == pytest.approx(within["MDM"]["nmcc"], abs=1e-9)


def test_sources_are_matched_to_the_target_or_refused():
    cfg = PseudoOnlineConfig(step_s=0.5)
    run = _runs(4, n=1)[0]
    names = list(run.ch_names)
    # another order, an extra channel, another case: matched by name
    extra = replace(run, data=np.vstack([run.data[::-1], run.data[:1]]),
                    ch_names=[c.upper() for c in names[::-1]] + ["EXTRA"])
    src = source_windows("other-order", [extra], cfg, run.sfreq, names)
    ref = source_windows("same", [run], cfg, run.sfreq, names)
    np.testing.assert_allclose(src.X, ref.X)
    # twice the rate: resampled to the target's, windows of the target's length
    fast = replace(run, data=np.repeat(run.data, 2, axis=1), sfreq=2 * run.sfreq)
    assert source_windows("fast", [fast], cfg, run.sfreq, names).X.shape[1:] == ref.X.shape[1:]
    # a channel of the target missing: refused, naming it
    missing = replace(run, data=run.data[1:], ch_names=names[1:])
    with pytest.raises(DataError, match=rf"lacks channel\(s\) \['{names[0]}'\]"):
        source_windows("short", [missing], cfg, run.sfreq, names)
    # other classes: refused, naming them
    with pytest.raises(DataError, match="no window of class"):
        source_windows("feet", [run], replace(cfg, classes=("left_hand", "feet")), run.sfreq,
                       names)


def test_subject_sources_leave_the_target_out():
    cfg = PseudoOnlineConfig(step_s=0.5)
    runs = {s: _runs(s, n=1) for s in (1, 2)}
    calls = []

    def sessions_of(subject):
        calls.append(subject)
        return [("0", runs[subject])]

    cache = {}
    sources = subject_sources(sessions_of, [1, 2], 1, cfg, 128.0, runs[1][0].ch_names,
                              "Sim", cache)
    assert [s.name for s in sources] == ["Sim/2/0"]
    subject_sources(sessions_of, [1, 2], 1, cfg, 128.0, runs[1][0].ch_names, "Sim", cache)
    assert calls == [2]  # cached for the next target of the same montage
    with pytest.raises(DataError, match="no other subject"):
        subject_sources(sessions_of, [1], 1, cfg, 128.0, runs[1][0].ch_names)


def test_trials_for_counts_until_every_class_has_enough():
    run = _runs(5, n=1)[0]
    labels = [lab for _, _, lab in sorted(run.events) if lab in ("left_hand", "right_hand")]
    for k in (1, 3, 8):
        n = trials_for([run], ("left_hand", "right_hand"), k)
        first = labels[:n]
        assert min(first.count("left_hand"), first.count("right_hand")) == k
        assert min(labels[:n - 1].count("left_hand"), labels[:n - 1].count("right_hand")) < k
    assert trials_for([run], ("left_hand", "right_hand"), 9) is None


def test_calibration_reaching_into_the_test_runs_is_refused(shifted_target):
    cfg = PseudoOnlineConfig(step_s=0.5, calibration_runs=2)
    with pytest.raises(DataError, match="reaches into the test runs"):
        evaluate_session(shifted_target, {"MDM": make_pipeline(ShrunkCovariances(),
                                                               FastMDM())},
                         cfg, test_from=1)


def test_learning_curve_on_synthetic_subjects(tmp_path):
    """`bci-app learning-curve` on two synthetic subjects, two calibration lengths: its
    table, summary, plot and text (one run gives both the curve's rows and the command's
    outputs)."""
    import pandas as pd

    model = tmp_path / "rc_mdm.yml"
    model.write_text(RC_MDM, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["learning-curve", "--dataset", "SyntheticMI", "--subjects", "1", "2",
                 "--models", str(model), "--sizes", "3", "5", "--step", "0.5",
                 "--out", str(out), "--no-progress"]) == 0
    metrics = pd.read_csv(out / "learning_curve.csv")
    n_sessions = metrics.groupby("subject")["session"].nunique().sum()
    assert n_sessions == 2 * 2  # subjects x sessions
    assert len(metrics) == n_sessions * 2 * 2  # sizes x trainings
    for _, row in metrics.iterrows():
        counts = dict(part.rsplit(" ", 1) for part in row["n_calibration_trials"].split(", "))
        assert min(int(v) for v in counts.values()) >= row["trials_per_class"]
        assert (row["n_source_windows"] > 0) == (row["training"] == "transfer")
    # the test part is the same whatever the calibration: the last run of each session
    assert metrics.groupby(["subject", "session"])["n_windows"].nunique().max() == 1
    summary = json.loads((out / "learning_curve.json").read_text())["RC+MDM"]
    assert {p["trials_per_class"] for p in summary["paired"]} == {3, 5}
    assert summary["reference"]["within_trials_per_class"] == 5
    assert sorted((c["trials_per_class"], c["training"]) for c in summary["curve"]) == [
        (3, "transfer"), (3, "within"), (5, "transfer"), (5, "within")]
    assert (out / "learning_curve.png").stat().st_size > 10_000
    text = (out / "scores.txt").read_text()
    assert "transfer - within" in text and "chance" in text


def test_train_with_transfer_from_a_dataset(tmp_path):
    from bci_app.decoding.persistence import load_model

    model = tmp_path / "rc_mdm.yml"
    model.write_text(RC_MDM, encoding="utf-8")
    out = tmp_path / "m.bcimodel"
    assert main(["train", "--model", str(model), "--dataset", "SyntheticMI", "--subject", "1",
                 "--transfer-from", "SyntheticMI", "--transfer-subjects", "1", "2", "3",
                 "--out", str(out)]) == 0
    trained = load_model(out)
    transfer = trained.trained_on["transfer"]
    # the target subject is never its own source
    assert transfer["sources"] and not any(s.startswith("SyntheticMI/1/")
                                           for s in transfer["sources"])
    assert {s.split("/")[1] for s in transfer["sources"]} == {"2", "3"}
    assert transfer["domain_steps"] == ["recenter"]
    rc = trained.pipeline.named_steps["recenter"]
    assert rc.target_ == "target" and len(rc.references_) == len(transfer["sources"]) + 1
    # saved from its calibration reference, not from where the training windows moved it
    np.testing.assert_allclose(rc.reference_, rc.references_["target"])


def test_pseudo_online_cli_leave_one_subject_out(tmp_path):
    model = tmp_path / "rc_mdm.yml"
    model.write_text(RC_MDM, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["pseudo-online", "--dataset", "SyntheticMI", "--subjects", "1", "2",
                 "--models", str(model), "--step", "0.5", "--transfer-from", "other-subjects",
                 "--out", str(out), "--no-progress"]) == 0
    import pandas as pd

    metrics = pd.read_csv(out / "metrics.csv")
    for _, row in metrics.iterrows():
        other = "2" if str(row["subject"]) == "1" else "1"
        assert {s.split("/")[1] for s in row["sources"].split(", ")} == {other}
    assert main(["pseudo-online", "--dataset", "SyntheticMI", "--subjects", "1",
                 "--models", str(model), "--transfer-from", "other-subjects",
                 "--out", str(out), "--no-progress"]) != 0


def test_the_reference_size_is_one_every_subject_reaches():
    """A size only some subjects have trials for (here 15: subject 1 alone) is no reference:
    its mean is over other subjects. The reference is the largest size every subject has,
    and transfer reaches it only at a size every subject has too."""
    import pandas as pd

    from bci_app.evaluation.transfer import CURVE_COLUMNS, summarise_learning_curve

    rows = []
    within = {3: 0.6, 5: 0.7, 10: 0.8}
    transfer = {3: 0.7, 5: 0.75, 10: 0.85}
    for subject in (1, 2, 3):
        for training, curve in (("within", within), ("transfer", transfer)):
            for k, acc in curve.items():
                rows.append({"training": training, "trials_per_class": k, "acc": acc,
                             "subject": subject})
    # subject 1 alone has 15 trials per class: a low within score, a high transfer one
    rows += [{"training": "within", "trials_per_class": 15, "acc": 0.5, "subject": 1},
             {"training": "transfer", "trials_per_class": 15, "acc": 0.9, "subject": 1}]
    metrics = pd.DataFrame(rows)
    for column in CURVE_COLUMNS:
        metrics[column] = metrics["acc"]
    metrics["pipeline"] = "P"
    summary = summarise_learning_curve(metrics.drop(columns="acc"))["P"]
    assert summary["reference"] == {"score": "offline_accuracy",
                                    "within_trials_per_class": 10, "within_score": 0.8,
                                    "transfer_reaches_at": 10, "n_subjects": 3}
    # the size with fewer subjects stays in the curve, marked with its count
    assert [c["n_subjects"] for c in summary["curve"]
            if c["trials_per_class"] == 15] == [1, 1]
