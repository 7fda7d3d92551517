import numpy as np
import pytest
from scipy.signal import sosfilt

from bci_app.errors import ConfigError, DataError
from bci_app.processing.filters import CausalFilter


@pytest.mark.parametrize("notch", [None, 50.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunked_filtering_equals_whole(seed, notch):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 3000)) * 1e-5 + 1e-4  # with a DC offset
    filt = CausalFilter(250.0, 8.0, 30.0, notch=notch)
    whole = filt.process_whole(x)
    filt.reset()
    sizes = rng.integers(1, 400, size=100)
    parts, i = [], 0
    for n in sizes:
        if i >= x.shape[1]:
            break
        parts.append(filt.process(x[:, i:i + n]))
        i += n
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole[:, :i])


def test_filter_passes_the_band_and_removes_the_rest():
    sf = 250.0
    t = np.arange(int(20 * sf)) / sf
    inband = np.sin(2 * np.pi * 12 * t)
    out = np.sin(2 * np.pi * 2 * t) + np.sin(2 * np.pi * 50 * t)
    filt = CausalFilter(sf, 8.0, 30.0, notch=50.0)
    y = filt.process_whole(np.vstack([inband, out]))[:, int(5 * sf):]
    assert 0.9 < y[0].std() / inband.std() < 1.1
    assert y[1].std() < 0.02


def test_steady_start_has_no_step_transient_and_zeros_does():
    x = np.full((1, 500), 1e-3)
    steady = CausalFilter(250.0, 8.0, 30.0, initial="steady").process_whole(x)
    zeros = CausalFilter(250.0, 8.0, 30.0, initial="zeros").process_whole(x)
    assert np.abs(steady).max() < 1e-12
    assert np.abs(zeros).max() > 1e-5
    ref = sosfilt(CausalFilter(250.0, 8.0, 30.0).sos, x, axis=-1)
    np.testing.assert_allclose(zeros, ref)


def test_filter_errors():
    with pytest.raises(ConfigError, match="Nyquist"):
        CausalFilter(100.0, 8.0, 60.0)
    with pytest.raises(ConfigError, match="below h_freq"):
        CausalFilter(250.0, 30.0, 8.0)
    filt = CausalFilter(250.0)
    filt.process(np.zeros((3, 10)))
    with pytest.raises(DataError, match="call reset"):
        filt.process(np.zeros((4, 10)))
    with pytest.raises(DataError, match="n_channels, n_samples"):
        filt.process(np.zeros(10))
