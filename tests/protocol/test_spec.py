"""Protocol files: the shipped ones load, and every kind of bad file gives a clear error."""

import re

import pytest

from bci_app.acquisition.simulator import REST_MARKERS, default_marker_map
from bci_app.errors import ConfigError
from bci_app.protocol import (
    ALLOWED_CLASSES,
    RESERVED_MARKERS,
    Protocol,
    Timing,
    list_protocols,
    load_protocol,
    protocol_path,
)

VALID = """\
name = "Test protocol"
run_type = "calibration"
classes = ["left_hand", "right_hand"]
trials_per_class = 3
randomisation = "block"

[timing]
baseline_s = 2.0
fixation_s = 1.0
cue_s = 0.5
imagery_s = 3.0
iti_min_s = 1.0
iti_max_s = 2.0

[markers]
left_hand = "left_hand"
right_hand = "right_hand"
"""


def _write(tmp_path, text, name="protocol.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _edit(old, new, text=VALID):
    assert old in text, old
    return text.replace(old, new, 1)


def test_valid_file(tmp_path):
    p = load_protocol(_write(tmp_path, VALID))
    assert p.classes == ("left_hand", "right_hand")
    assert p.timing == Timing(2.0, 1.0, 0.5, 3.0, 1.0, 2.0)
    assert p.feedback is False and p.seed is None
    assert p.markers == {"left_hand": "left_hand", "right_hand": "right_hand"}
    assert p.n_trials == 6
    assert p.total_duration() == pytest.approx(2.0 + 6 * (1.0 + 0.5 + 3.0 + 1.5))


def test_shipped_protocols_load():
    names = list_protocols()
    assert {"left_right_hand", "hand_vs_rest"} <= set(names)
    for name in names:
        p = load_protocol(protocol_path(name))
        assert p.n_trials >= 20 and 60 < p.total_duration() < 15 * 60, name
        assert p.feedback == (p.run_type == "online"), name
    lr = load_protocol("left_right_hand")  # by name
    assert lr.classes == ("left_hand", "right_hand") and lr.run_type == "calibration"


def test_hand_vs_rest_affected_side():
    p = load_protocol("hand_vs_rest")
    assert p.affected_hand == "left" and p.classes == ("left_hand", "rest")
    right = load_protocol("hand_vs_rest", affected_hand="right")
    assert right.classes == ("right_hand", "rest")
    assert right.markers == {"right_hand": "right_hand", "rest": "rest"}
    with pytest.raises(ConfigError, match="affected_hand"):
        load_protocol("hand_vs_rest", affected_hand="middle")


def test_affected_hand_alias_in_markers(tmp_path):
    text = _edit('classes = ["left_hand", "right_hand"]',
                 'affected_hand = "right"\nclasses = ["affected_hand", "rest"]')
    text = text.split("[markers]")[0] + '[markers]\naffected_hand = "770"\n'
    p = load_protocol(_write(tmp_path, text))
    assert p.markers == {"right_hand": "770", "rest": "rest"}
    assert p.class_of_marker == {"770": "right_hand", "rest": "rest"}


def test_feedback_defaults_to_run_type(tmp_path):
    p = load_protocol(_write(tmp_path, _edit('"calibration"', '"online"')))
    assert p.feedback is True


# (id, file text or None for a missing file, fragments the message must contain)
BAD_FILES = [
    ("not-toml", _edit('trials_per_class = 3', 'trials_per_class = = 3'),
     ["not valid TOML", "line 4"]),
    ("not-toml-unclosed-string", _edit('"Test protocol"', '"Test protocol'),
     ["not valid TOML", "line 1"]),
    ("file-not-found", None, ["not found", "left_right_hand"]),
    ("missing-required-top", _edit('trials_per_class = 3\n', ''),
     ["missing required field 'trials_per_class'", "name, run_type, classes"]),
    ("missing-required-timing", _edit('imagery_s = 3.0\n', ''),
     ["missing required field 'timing.imagery_s'", "> 0"]),
    ("missing-timing-table", VALID.split("[timing]")[0],
     ["missing required field 'timing'"]),
    ("unknown-field-typo", _edit('randomisation', 'randomization'),
     ["unknown field 'randomization'", "did you mean 'randomisation'", "run_type"]),
    ("unknown-timing-typo", _edit('imagery_s = 3.0', 'imagry_s = 3.0'),
     ["unknown field 'timing.imagry_s'", "did you mean 'imagery_s'", "timing.imagery_s"]),
    ("wrong-type-duration", _edit('imagery_s = 3.0', 'imagery_s = "3 s"'),
     ["'timing.imagery_s' = '3 s'", "number of seconds > 0 and <= 60"]),
    ("wrong-type-trials", _edit('trials_per_class = 3', 'trials_per_class = 2.5'),
     ["'trials_per_class' = 2.5", "integer from 1 to 1000"]),
    ("wrong-type-classes", _edit('["left_hand", "right_hand"]', '"left_hand"'),
     ["'classes' = 'left_hand'", "list of class names"]),
    ("wrong-type-feedback", _edit('trials_per_class = 3', 'trials_per_class = 3\nfeedback = 1'),
     ["'feedback' = 1", "true | false"]),
    ("negative-duration", _edit('fixation_s = 1.0', 'fixation_s = -1.0'),
     ["'timing.fixation_s' = -1.0", ">= 0 and <= 60"]),
    ("zero-imagery", _edit('imagery_s = 3.0', 'imagery_s = 0'),
     ["'timing.imagery_s' = 0", "> 0 and <= 60"]),
    ("duration-in-ms", _edit('imagery_s = 3.0', 'imagery_s = 3000'),
     ["'timing.imagery_s' = 3000", "<= 60"]),
    ("iti-min-above-max", _edit('iti_min_s = 1.0', 'iti_min_s = 2.5'),
     ["'timing.iti_min_s' = 2.5 is greater than 'timing.iti_max_s' = 2.0",
      "iti_min_s <= iti_max_s"]),
    ("unknown-class", _edit('"right_hand"]', '"right_foot"]'),
     ["unknown class 'classes[1]' = 'right_foot'", "did you mean 'right_hand'",
      ", ".join(ALLOWED_CLASSES)]),
    ("duplicate-class", _edit('"right_hand"]', '"left_hand"]').split("[markers]")[0],
     ["duplicate class 'classes[1]' = 'left_hand'", "each class once"]),
    ("one-class", _edit('["left_hand", "right_hand"]', '["left_hand"]').split("[markers]")[0],
     ["fewer than 2 classes", "2 or more distinct classes"]),
    ("zero-trials", _edit('trials_per_class = 3', 'trials_per_class = 0'),
     ["'trials_per_class' = 0", "integer from 1 to 1000"]),
    ("bad-run-type", _edit('"calibration"', '"training"'),
     ["'run_type' = 'training'", '"calibration" | "online"']),
    ("feedback-on-calibration",
     _edit('trials_per_class = 3', 'trials_per_class = 3\nfeedback = true'),
     ["'feedback' = true on a calibration run", "feedback = false"]),
    ("bad-randomisation", _edit('"block"', '"random"'),
     ["'randomisation' = 'random'", '"block" | "full" | "none"']),
    ("duplicate-marker", _edit('right_hand = "right_hand"', 'right_hand = "LEFT_HAND"'),
     ["'markers.right_hand' = 'LEFT_HAND' is the name of another class"]),
    ("duplicate-marker-code", _edit('left_hand = "left_hand"', 'left_hand = "1"')
     .replace('right_hand = "right_hand"', 'right_hand = "1"'),
     ["duplicate marker: 'markers.right_hand' = '1' is also the marker of 'left_hand'"]),
    ("reserved-marker", _edit('left_hand = "left_hand"', 'left_hand = "fixation"'),
     ["'markers.left_hand' = 'fixation' collides with a reserved control marker",
      "run_start, baseline, fixation, idle"]),
    ("reserved-cue-prefix", _edit('left_hand = "left_hand"', 'left_hand = "cue_left"'),
     ["'markers.left_hand' = 'cue_left' collides", "starting with 'cue_'"]),
    ("marker-of-unknown-class", _edit('right_hand = "right_hand"', 'feet = "feet"'),
     ["'markers.feet' is not a class of this protocol", "left_hand, right_hand"]),
    ("empty-marker", _edit('left_hand = "left_hand"', 'left_hand = ""'),
     ["'markers.left_hand' = ''", "non-empty string"]),
    ("affected-hand-unset", _edit('["left_hand", "right_hand"]', '["affected_hand", "rest"]')
     .split("[markers]")[0], ["'classes[0]' = \"affected_hand\" but no affected_hand",
                              "affected_hand = 'left' | 'right'"]),
    ("affected-hand-invalid", _edit('classes =', 'affected_hand = "both"\nclasses ='),
     ["'affected_hand' = 'both'", '"left" | "right"']),
    ("negative-seed", _edit('trials_per_class = 3', 'trials_per_class = 3\nseed = -4'),
     ["'seed' = -4", "integer >= 0"]),
]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in BAD_FILES],
                         ids=[c[0] for c in BAD_FILES])
def test_bad_file_gives_a_clear_error(tmp_path, text, fragments):
    path = tmp_path / "bad.toml" if text is None else _write(tmp_path, text, "bad.toml")
    with pytest.raises(ConfigError) as info:
        load_protocol(path)
    message = str(info.value)
    assert str(path) in message  # names the file
    assert "allowed:" in message  # says what is allowed
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    # "<file>: <problem>; allowed: <values>. <What to do>."
    assert re.search(r"; allowed: .+\. [A-Z].*\S$", message, re.S), f"no advice: {message}"


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    """One load names all the fields to fix, each with its allowed values and advice."""
    text = _edit('trials_per_class = 3', 'trials_per_class = 0\nseed = true')
    text = _edit('imagery_s = 3.0', 'imagry_s = 3.0', text)
    text = _edit('left_hand = "left_hand"', 'left_hand = "stop"', text)
    path = _write(tmp_path, text, "bad.toml")
    with pytest.raises(ConfigError) as info:
        load_protocol(path)
    first, *problems = str(info.value).splitlines()
    assert first == f"protocol {path}: 5 problems:"
    expected = ["'trials_per_class' = 0 is invalid", "missing required field 'timing.imagery_s'",
                "unknown field 'timing.imagry_s' (did you mean 'imagery_s'?)",
                "'markers.left_hand' = 'stop' collides", "'seed' = True is invalid"]
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert problem.startswith(f"- {fragment}"), problem
        assert re.search(r"; allowed: .+\. [A-Z].*\S$", problem), problem


def test_direct_construction_is_validated():
    timing = Timing(1.0, 1.0, 0.0, 2.0, 1.0, 1.0)
    p = Protocol("p", "online", ["feet", "rest"], 2, timing)
    assert p.classes == ("feet", "rest") and p.feedback is True
    with pytest.raises(ConfigError, match=r"timing\.iti_min_s"):
        p.with_timing(iti_min_s=0.0)
    with pytest.raises(ConfigError, match="run_type"):
        Protocol("p", "offline", ["feet", "rest"], 2, timing)
    short = p.scaled(0.1)
    assert short.timing.imagery_s == pytest.approx(0.2)
    assert short.total_duration() == pytest.approx(0.1 * p.total_duration())


def test_reserved_markers_agree_with_the_simulator():
    """Class markers can never be read by the simulator as rest, nor as another class."""
    reserved = {m.lower() for m in RESERVED_MARKERS}
    assert {m.lower() for m in REST_MARKERS} - {"rest"} <= reserved
    sim = default_marker_map()
    for name in ALLOWED_CLASSES:
        assert sim.get(name, name) in (name, None)  # a class name maps to itself or rest
    assert sim["rest"] is None


def test_shortened_scales_caps_the_baseline_and_keeps_imagery_long_enough():
    """The demo rule: durations times the scale, baseline <= 3 s, imagery >= the floor."""
    from bci_app.protocol.spec import DEMO_MAX_BASELINE_S

    timing = Timing(baseline_s=20.0, fixation_s=1.0, cue_s=1.0, imagery_s=4.0,
                    iti_min_s=2.0, iti_max_s=3.0)
    p = Protocol("p", "online", ["left_hand", "right_hand"], 2, timing)
    short = p.shortened(0.5, min_imagery_s=3.0)
    assert DEMO_MAX_BASELINE_S == 3.0
    assert short.timing == Timing(baseline_s=3.0, fixation_s=0.5, cue_s=0.5, imagery_s=3.0,
                                  iti_min_s=1.0, iti_max_s=1.5)
    # below the cap and above the floor: plainly scaled
    assert p.shortened(0.1, min_imagery_s=0.2).timing == p.scaled(0.1).timing
    assert p.shortened(0.1).timing.imagery_s == pytest.approx(0.4)
    # the protocol as it is at scale 1 (no cap on its baseline, no floor on its imagery)
    assert p.shortened(1.0, min_imagery_s=10.0) is p
    assert (short.classes, short.trials_per_class, short.name) == \
        (p.classes, p.trials_per_class, p.name)
    for bad in (0.0, -1.0):
        with pytest.raises(ConfigError, match="time scale"):
            p.shortened(bad)
    with pytest.raises(ConfigError, match="shortest imagery"):
        p.shortened(0.5, min_imagery_s=-1.0)
