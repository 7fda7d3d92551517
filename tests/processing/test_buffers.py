"""The ring buffer of the displays: the latest samples, in order, whatever the chunk sizes."""

import threading

import numpy as np
import pytest

from bci_app.errors import DataError
from bci_app.processing.buffers import RingBuffer


def test_ring_buffer_keeps_the_latest_samples_in_order():
    buf = RingBuffer(2, 10)
    data = np.arange(26, dtype=float).reshape(2, 13)
    buf.write(data[:, :7])
    buf.write(data[:, 7:])
    assert buf.count == 13
    np.testing.assert_array_equal(buf.latest(10), data[:, 3:])
    np.testing.assert_array_equal(buf.latest(4), data[:, 9:])
    buf.write(np.zeros((2, 25)))
    assert buf.latest(10).shape == (2, 10) and not buf.latest(10).any()


def test_wrap_around_matches_a_plain_concatenation():
    rng = np.random.default_rng(0)
    cap = 37
    buf = RingBuffer(3, cap)
    written = np.zeros((3, 0), dtype=np.float32)
    # Chunk sizes below, at and above the capacity, and empty chunks.
    for size in list(rng.integers(0, 20, 60)) + [cap, 0, cap + 1, 3 * cap + 5, 1, cap - 1]:
        block = rng.standard_normal((3, int(size))).astype(np.float32)
        buf.write(block)
        written = np.concatenate([written, block], axis=1)
        assert buf.count == written.shape[1]
        for n in (1, 5, cap - 1, cap, cap + 10):
            expected = written[:, max(0, written.shape[1] - min(n, cap)):]
            np.testing.assert_array_equal(buf.latest(n), expected)


def test_count_includes_blocks_longer_than_the_buffer():
    buf = RingBuffer(1, 10)
    buf.write(np.zeros((1, 3)))
    buf.write(np.arange(25, dtype=float)[None, :])
    assert buf.count == 28  # samples written since creation, not samples kept
    np.testing.assert_array_equal(buf.latest(10)[0], np.arange(15, 25))
    buf.write(np.array([[99.0]]))
    np.testing.assert_array_equal(buf.latest(3)[0], [23, 24, 99])


def test_latest_of_an_empty_buffer_and_of_nothing():
    buf = RingBuffer(4, 8)
    assert buf.latest(5).shape == (4, 0) and buf.age() is None
    buf.write(np.ones((4, 2)))
    assert buf.latest(0).shape == (4, 0)
    assert buf.latest(-3).shape == (4, 0)


def test_age_counts_from_the_last_samples_not_from_empty_chunks():
    buf = RingBuffer(2, 8)
    buf.write(np.ones((2, 3)))
    t = buf.last_write
    assert buf.age(now=t + 2.5) == pytest.approx(2.5)
    buf.write(np.ones((2, 0)))  # an empty read is not a sign of life
    assert buf.last_write == t


def test_a_block_of_the_wrong_shape_is_refused():
    buf = RingBuffer(3, 8)
    with pytest.raises(DataError, match="3 channels"):
        buf.write(np.ones((1, 4)))  # would broadcast silently into the 3 rows
    with pytest.raises(DataError, match="3 channels"):
        buf.write(np.ones(4))
    assert buf.count == 0


def test_concurrent_writer_and_reader_see_whole_chunks():
    buf = RingBuffer(1, 64)
    stop = threading.Event()

    def writer():
        k = 0
        while not stop.is_set() and k < 20000:
            buf.write(np.arange(k, k + 7, dtype=np.float32)[None, :])
            k += 7

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(500):
            x = buf.latest(50)[0]
            if x.size > 1:
                assert np.all(np.diff(x) == 1)  # consecutive samples, never torn
    finally:
        stop.set()
        thread.join()
