"""Idle decided by a confidence threshold: a threshold at or below 1/n_classes never decides
idle (the largest of n probabilities is at least 1/n), so it is refused."""

import numpy as np
import pytest

from bci_app.cli import main
from bci_app.errors import ConfigError
from bci_app.online.engine import DecisionRule, check_idle_threshold


@pytest.mark.parametrize("n, refused, accepted", [(2, 0.5, 0.51), (3, 1 / 3, 0.34),
                                                  (4, 0.25, 0.26)])
def test_the_bound_is_one_over_the_number_of_task_classes(n, refused, accepted):
    for threshold in (0.0, refused):
        with pytest.raises(ConfigError) as err:
            check_idle_threshold(threshold, n)
        assert "--threshold" in str(err.value) and f"1/{n} = {1 / n:.4g}" in str(err.value)
    check_idle_threshold(accepted, n)


def test_the_decision_rule_checks_it_when_idle_is_decided_by_the_threshold():
    with pytest.raises(ConfigError, match=r"1/2 = 0\.5"):
        DecisionRule(["left_hand", "right_hand"], threshold=0.0, idle_by_threshold=True)
    # idle among the classes is no task class: two task classes here as well
    with pytest.raises(ConfigError, match=r"1/2 = 0\.5"):
        DecisionRule(["idle", "left_hand", "right_hand"], threshold=0.5,
                     idle_by_threshold=True)
    rule = DecisionRule(["left_hand", "right_hand"], threshold=0.7, idle_by_threshold=True)
    _, decisions = rule.update(np.array([[0.5, 0.5], [0.2, 0.8], [0.65, 0.35]]))
    assert list(decisions) == ["idle", "right_hand", "idle"]
    # a model with an idle class needs no threshold: 0 stays allowed without the flag
    _, decisions = DecisionRule(["idle", "left_hand"], threshold=0.0).update([[0.6, 0.4]])
    assert list(decisions) == ["idle"]


def test_the_command_line_refuses_it_before_reading_any_data(capsys):
    code = main(["pseudo-online", "--dataset", "SyntheticMI", "--subjects", "1",
                 "--idle", "threshold", "--paradigm", "left-right-feet"])
    err = capsys.readouterr().err
    assert code == 2 and "usage error" in err
    assert "--threshold" in err and "1/3 = 0.3333" in err and "--idle threshold" in err
