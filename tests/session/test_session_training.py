"""The task classes a session's calibration runs are trained on (GUI and bci-app session)."""

from types import SimpleNamespace

import pytest

from bci_app.errors import DataError
from bci_app.session.training import task_classes


def _runs(*class_lists):
    return [SimpleNamespace(index=k + 1, classes=list(c)) for k, c in enumerate(class_lists)]


def test_task_classes_leave_idle_names_out_and_keep_the_protocols_order():
    assert task_classes(_runs(["right_hand", "rest"])) == ("right_hand",)
    assert task_classes(_runs(["left_hand", "right_hand"], ["feet", "left_hand", "Idle"])) \
        == ("left_hand", "right_hand", "feet")


def test_runs_without_a_task_class_are_refused_by_number():
    with pytest.raises(DataError, match=r"runs \[1, 2\] name no task class"):
        task_classes(_runs(["rest"], []))
