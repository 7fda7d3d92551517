import numpy as np
import pytest
from pyriemann.classification import MDM
from pyriemann.estimation import Covariances
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding import SelectChannels, bind_recording_info
from bci_app.errors import ConfigError, DataError
from bci_app.online.engine import DecisionRule, WindowedDecoder, class_probabilities


@pytest.fixture(scope="module")
def recording():
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=4, seed=3), sfreq=160.0,
                          seed=3)
    return raw.get_data(), raw.ch_names


@pytest.fixture(scope="module")
def fitted(recording):
    data, ch_names = recording
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, len(ch_names), 320)) * 1e-5
    y = np.repeat(["left_hand", "right_hand"], 10)
    X[y == "left_hand", 3] *= 3
    model = make_pipeline(SelectChannels(["C3", "Cz", "C4", "FC3", "FC4"]),
                          Covariances("scm"), MDM())
    bind_recording_info(model, sfreq=160.0, ch_names=ch_names)
    return model.fit(X, y)


def test_push_in_chunks_equals_sweep(recording, fitted):
    data, ch_names = recording
    dec = WindowedDecoder(fitted, 160.0, ch_names, window_s=2.0, step_s=0.1, smoothing=5,
                          threshold=0.6)
    swept = dec.sweep(data)
    dec.reset()
    rng = np.random.default_rng(1)
    ts = np.arange(data.shape[1]) / 160.0
    parts, i = [], 0
    while i < data.shape[1]:
        n = int(rng.integers(1, 60))
        parts.append(dec.push(data[:, i:i + n], ts[i:i + n]))
        i += n
    pushed = type(swept).concatenate(parts, swept.classes)
    assert len(swept) == (data.shape[1] - 320) // 16 + 1
    np.testing.assert_array_equal(pushed.last, swept.last)
    np.testing.assert_allclose(pushed.times, swept.times)
    np.testing.assert_allclose(pushed.proba, swept.proba, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(pushed.decisions, swept.decisions)
    assert set(swept.decisions) <= {"left_hand", "right_hand", "idle"}


def test_sweep_start_sample_drops_earlier_windows(recording, fitted):
    data, ch_names = recording
    dec = WindowedDecoder(fitted, 160.0, ch_names, window_s=2.0, step_s=0.5)
    full = dec.sweep(data)
    late = dec.sweep(data, start_sample=1000)
    assert (late.last - 320 + 1).min() >= 1000
    np.testing.assert_allclose(late.proba, full.proba[-len(late):])


def test_decision_rule_smoothing_and_threshold():
    rule = DecisionRule(["a", "b"], smoothing=3, threshold=0.7)
    p = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.1, 0.9]])
    sm1, d1 = rule.update(p[:1])
    sm2, d2 = rule.update(p[1:])
    smoothed = np.vstack([sm1, sm2])
    expected = np.array([p[0], p[:2].mean(0), p[:3].mean(0), p[1:4].mean(0)])
    np.testing.assert_allclose(smoothed, expected)
    assert list(np.concatenate([d1, d2])) == ["a", "idle", "idle", "b"]
    with pytest.raises(ConfigError):
        DecisionRule(["a"], smoothing=0)


def test_model_without_predict_proba_uses_decision_function():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = (X[:, 0] > 0).astype(int)
    svc = SVC(kernel="linear").fit(X, y)
    p = class_probabilities(svc, X)
    assert p.shape == (30, 2)
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_array_equal(p.argmax(1), svc.predict(X))


def test_stream_must_match_the_model(recording, fitted):
    _, ch_names = recording
    with pytest.raises(DataError, match="fitted on channels"):
        WindowedDecoder(fitted, 160.0, list(reversed(ch_names)))
    with pytest.raises(DataError, match="channels"):
        WindowedDecoder(fitted, 160.0, ch_names).push(np.zeros((3, 10)), np.zeros(10))
    with pytest.raises(ConfigError, match="fitted classifier"):
        WindowedDecoder(MDM(), 160.0)


def test_stream_rate_must_match_the_model():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from bci_app.decoding import Connectivity, GraphFeatures

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4, 256))
    y = np.repeat([0, 1], 10)
    model = make_pipeline(Connectivity("coherence", sfreq=128.0), GraphFeatures(),
                          LinearDiscriminantAnalysis()).fit(X, y)
    with pytest.raises(DataError, match="fitted at 128.0 Hz but the stream runs at 250.0"):
        WindowedDecoder(model, 250.0)
    WindowedDecoder(model, 128.0)  # same rate: accepted


def test_sweep_without_channel_selection_equals_push_across_batches(recording):
    # A model whose first step is not SelectChannels gets its windows copied into a reused
    # buffer: several batches (small batch_size, last one partial) must equal push.
    data, ch_names = recording
    data = data[:6]
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 6, 320)) * 1e-5
    y = np.repeat(["left_hand", "right_hand"], 10)
    X[y == "left_hand", 2] *= 3
    model = make_pipeline(Covariances("scm"), MDM()).fit(X, y)
    dec = WindowedDecoder(model, 160.0, ch_names[:6], window_s=2.0, step_s=0.5, batch_size=7)
    swept = dec.sweep(data, start_sample=100)
    assert len(swept) > 7 and len(swept) % 7 != 0
    dec.reset()
    ts = np.arange(data.shape[1]) / 160.0
    pushed = dec.push(data, ts)
    keep = (pushed.last - 320 + 1) >= 100
    np.testing.assert_array_equal(pushed.last[keep], swept.last)
    np.testing.assert_allclose(pushed.proba[keep], swept.proba, rtol=1e-12, atol=1e-15)


def test_sweep_start_sample_edges(recording, fitted):
    data, ch_names = recording
    dec = WindowedDecoder(fitted, 160.0, ch_names, window_s=2.0, step_s=0.5)
    full = dec.sweep(data)
    for start in (0, 80, 81, 79):  # exactly on a window start, just after, just before
        part = dec.sweep(data, start_sample=start)
        starts = full.last - 320 + 1
        np.testing.assert_array_equal(part.last, full.last[starts >= start])
        np.testing.assert_array_equal(part.proba, full.proba[starts >= start])
    assert len(dec.sweep(data, start_sample=data.shape[1])) == 0


def test_push_equals_sweep_through_nan_and_flat_stretches(recording, fitted):
    """Faulty samples go the same way pushed in chunks or swept: the same windows get no
    decision, and the same probabilities come back after them."""
    from bci_app.processing.quality import ARTIFACT

    data, ch_names = recording
    data = data.copy()
    data[:, 700:720] = np.nan  # every channel
    data[ch_names.index("C3"), 1500:1510] = np.inf  # one channel the model reads
    data[ch_names.index("Cz"), 2400:2800] = 0.0  # flat, on one channel the model reads
    data[ch_names.index("Pz"), 3000:3100] = np.nan  # a channel it does not read
    dec = WindowedDecoder(fitted, 160.0, ch_names, window_s=2.0, step_s=0.1, smoothing=3)
    swept = dec.sweep(data)
    dec.reset()
    rng = np.random.default_rng(2)
    ts = np.arange(data.shape[1]) / 160.0
    parts, i = [], 0
    while i < data.shape[1]:
        n = int(rng.integers(1, 60))
        parts.append(dec.push(data[:, i:i + n], ts[i:i + n]))
        i += n
    pushed = type(swept).concatenate(parts, swept.classes)
    np.testing.assert_array_equal(pushed.decisions, swept.decisions)
    np.testing.assert_array_equal(pushed.reasons, swept.reasons)
    np.testing.assert_allclose(pushed.proba, swept.proba, rtol=1e-10, atol=1e-12)
    first = swept.last - 320 + 1
    holds = lambda a, b: (swept.last >= a) & (first < b)  # noqa: E731
    nan, inf = holds(700, 720), holds(1500, 1510)
    assert (swept.decisions[nan | inf] == ARTIFACT).all()
    assert set(swept.reasons[nan]) == {"non-finite samples (NaN/inf) on C3, Cz, C4, FC3, FC4"}
    assert set(swept.reasons[inf & ~nan]) == {"non-finite samples (NaN/inf) on C3"}
    flat = holds(2400 + 40, 2800 - 40)  # windows holding a whole 0.25 s of it
    assert set(swept.reasons[flat]) == {"flat signal (below 0.5 µV) on Cz"}
    clear = ~holds(700, 720) & ~holds(1500, 1510) & ~holds(2400, 2800)
    assert clear.sum() > 50 and (swept.decisions[clear] != ARTIFACT).all()
    assert holds(3000, 3100)[clear].sum() > 10  # Pz is not judged


def test_fitting_on_non_finite_windows_is_refused_naming_the_channels():
    from bci_app.online.engine import fit_decoder_model

    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 3, 100)) * 1e-5
    X[4, 1, 50] = np.nan
    y = np.repeat(["left_hand", "right_hand"], 5)
    with pytest.raises(DataError, match=r"non-finite values \(NaN/inf\) on channel\(s\) "
                                        r"\['Cz'\]"):
        fit_decoder_model(make_pipeline(Covariances("oas"), MDM()), X, y, 160.0,
                          ["C3", "Cz", "C4"])
