import numpy as np
import pytest

from bci_app.errors import ConfigError, DataError
from bci_app.processing.windows import StreamWindower, sliding_windows, window_samples


@pytest.mark.parametrize("window,step", [(100, 25), (64, 64), (50, 80), (10, 1)])
def test_stream_windows_equal_batch_windows(window, step):
    rng = np.random.default_rng(window + step)
    x = rng.standard_normal((3, 1234))
    ts = 1000.0 + np.arange(x.shape[1]) / 160.0
    batch, last = sliding_windows(x, window, step)
    assert len(last) == (x.shape[1] - window) // step + 1
    sw = StreamWindower(3, window, step)
    got, times, lasts, i = [], [], [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 200))
        w, t, l = sw.push(x[:, i:i + n], ts[i:i + n])
        got.append(w), times.append(t), lasts.append(l)
        i += n
    np.testing.assert_array_equal(np.concatenate(got), batch)
    np.testing.assert_array_equal(np.concatenate(lasts), last)
    # each window is stamped with the time of its last sample
    np.testing.assert_array_equal(np.concatenate(times), ts[last])
    # the buffer stays bounded
    assert sw._buf.shape[1] <= window + 200


def test_window_content_and_positions():
    x = np.arange(20, dtype=float)[None, :]
    w, last = sliding_windows(x, 5, 3)
    np.testing.assert_array_equal(last, [4, 7, 10, 13, 16, 19])
    np.testing.assert_array_equal(w[1, 0], [3, 4, 5, 6, 7])


def test_window_errors():
    with pytest.raises(ConfigError):
        window_samples(160.0, 0, 0.1)
    assert window_samples(160.0, 2.0, 0.25) == (320, 40)
    sw = StreamWindower(2, 10, 5)
    with pytest.raises(DataError, match="2 channels"):
        sw.push(np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(DataError, match="timestamps"):
        sw.push(np.zeros((2, 4)), np.zeros(3))
