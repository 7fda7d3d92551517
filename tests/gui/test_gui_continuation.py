"""Continuing a patient's course in the GUI: the earlier sessions and the proposed calibration
in 'Patient & session' and 'Training', training with the earlier sessions (the training
record names them), training on today's runs only, and an earlier session's decoder used
as it is.

Two earlier sessions of one patient are written to the window's store as ``bci-app
session`` leaves them (a calibration run each; a decoder trained and chosen in the second),
then the operator opens a new session in the form, as in the clinic.
"""

from bci_app.session.headless import train_session_model
from tests.session.test_continuation import (
    SHORT,
    _minutes,
    write_calibration,
)


def test_training_view_offers_the_earlier_sessions(window, qtbot, simulated_run, shot):
    c = window.controller
    store = c.store
    store.create_subject("P05")
    for k, started in enumerate(("2026-01-05T09:30:00+01:00", "2026-01-12T09:30:00+01:00")):
        write_calibration(store.new_session("P05"), started, seed=k)
    chosen, _ = train_session_model(store.root, "P05", "02", "mdm", window_s=1.0)
    store.open_session("P05", "02").update(model=str(chosen))

    form = window.show_step("Patient & session")
    form.refresh_subjects()
    form.subject_box.setCurrentText("P05")
    form.open_subject_button.click()
    with qtbot.waitSignal(c.continuationChanged, timeout=60000):
        form.new_session_button.click()
    today, plan = c.session, c.continuation
    assert today.label == "03"
    trials = SHORT
    assert plan.earlier_text() == ("Earlier sessions: 2 (last: ses-02, model MDM, no online "
                                   "score yet)")
    assert plan.proposal_text().startswith(
        f"Proposed calibration: {trials} trials per class (about "
        f"{max(1, round(_minutes(trials)))} min): 2 earlier session(s) of this patient with "
        "24 calibration trials; trained with earlier sessions, ")
    assert form.continuation_label.text().startswith(
        f"{plan.earlier_text()}.\n{plan.proposal_text()}\n")
    shot(window, "1_patient_session_earlier_sessions")
    # The calibration run's length is set to the proposal (the operator may change it).
    calibration = window.views["Calibration"].panel
    assert calibration.trials.value() == min(trials, calibration._protocols[
        calibration.protocol_box.currentData()].trials_per_class)
    assert calibration.trials.toolTip() == plan.proposal_text()

    view = window.show_step("Training")
    assert view.earlier_label.text() == plan.earlier_text()
    assert view.proposal_label.text() == plan.proposal_text()
    assert view.with_earlier.isEnabled() and view.with_earlier.isChecked()
    assert view.earlier_models.count() == 1
    assert view.earlier_models.currentText() == f"ses-02: {chosen.name} (used online then)"

    # Today's short calibration, as proposed; trained with the earlier sessions.
    simulated_run(today, trials=trials, seed=12)
    view.set_checked(["MDM"])
    with qtbot.waitSignal(c.trainingFinished, timeout=120000) as done:
        view.train_button.click()
    result = done.args[0]
    assert list(result.models) == ["MDM+earlier"]
    record = result.models["MDM+earlier"].trained_on
    assert record["transfer"]["sources"] == ["sub-P05/ses-01", "sub-P05/ses-02"]
    earlier_runs = [[r.bids_path.rsplit("/", 1)[-1] for r in
                     store.open_session("P05", label).runs_of_type("calibration")]
                    for label in ("01", "02")]
    assert [e["runs"] for e in record["earlier_sessions"]] == earlier_runs
    assert [e["runs"] for e in today.meta["training"]["transfer"]["earlier_sessions"]] == \
        earlier_runs
    assert view.used_label.text() == ("Trained on run(s) 1 (classes left hand, right hand) "
                                      "with the earlier sessions ses-01 (run(s) 1), ses-02 "
                                      "(run(s) 1).")
    assert view.table.item(0, 0).text() == "MDM+earlier"
    shot(window, "4_training_earlier_sessions")

    # Today's runs only: the same pipeline, no source.
    view.today_only.click()
    with qtbot.waitSignal(c.trainingFinished, timeout=120000) as done:
        view.train_button.click()
    alone = done.args[0]
    assert list(alone.models) == ["MDM"] and "transfer" not in alone.models["MDM"].trained_on
    assert view.used_label.text() == "Trained on run(s) 1 (classes left hand, right hand)."

    # An earlier session's decoder, as it is, for today's online runs.
    view.use_earlier_button.click()
    assert c.model_path == chosen and c.trained.name == "MDM"
    assert today.meta["model"] == str(chosen)
    assert view.model_label.text() == f"Model for online runs: {chosen.name}"


def test_first_session_offers_no_transfer(window, qtbot):
    c = window.controller
    form = window.show_step("Patient & session")
    form.subject_id.setText("N02")
    form.save_subject_button.click()
    with qtbot.waitSignal(c.continuationChanged, timeout=60000):
        form.new_session_button.click()
    assert c.continuation.earlier == []
    view = window.show_step("Training")
    assert view.earlier_label.text() == "Earlier sessions: none (first session)"
    assert view.proposal_label.text() == ("Proposed calibration: 20 trials per class (about "
                                          "6 min): full calibration: first session")
    assert not view.with_earlier.isEnabled() and view.today_only.isChecked()
    assert view.earlier_models.count() == 0 and not view.use_earlier_button.isEnabled()
