"""The clock of a regularly sampled stream, from its timestamps as they really arrive.

:class:`StreamClock` follows the timestamps of one EEG stream (mapped to this machine's LSL
clock by liblsl's ``clocksync``), chunk after chunk, and

* drops **duplicated samples**: a sample sent again, with the same timestamp and values (a
  driver resending its last chunk); they are counted;
* **regularises** the timestamps (``dejitter``, on by default): sample ``n`` of a continuous
  stretch is stamped ``a + b * n``, the least-squares line through the last ``window``
  seconds of (sample number, timestamp) pairs, kept strictly increasing. The application
  sees even, monotonic timestamps within a few milliseconds of the true acquisition times
  however much each timestamp jitters;
* finds **discontinuities** on that regularised clock, with a tolerance: the samples are
  ahead of the line by more than the tolerance *and* the timestamps step forward by more
  than it (samples missing, or the source's clock jumped ahead), or behind the line and
  stepping back (the clock jumped back). Jitter, and a timestamp stepping back within the
  tolerance, are not discontinuities. The tolerance is the larger of the configured one
  (0.1 s or 10 sampling periods by default) and 5 times the measured jitter;
* counts **out-of-order** timestamps (a step back, or none), which the regularisation repairs;
* **measures the effective rate**, 1 / slope of the line once it spans 5 s;
* tells whether the timestamps are **on this machine's clock**, so that latencies can be
  computed from them: over the last chunks, the samples arrived after their timestamps (a
  replay stamps each chunk's last sample a chunk ahead) and less than a second after them
  (not a clock that jumped, nor a recording's own timestamps); after a clock jump, only once
  the delay is back to what it was before it.

Why our own fit and not liblsl's ``dejitter`` post-processing: liblsl smooths with a recursive
least-squares filter with a half-life of 90 s that starts at the declared rate and knows
nothing of missing samples or clock jumps; a gap, a clock jump or a rate that differs from the
declared one is then spread over minutes of timestamps instead of being found, and the jitter
and the real rate stay hidden. A least-squares line over a sliding window, restarted at each
discontinuity, removes the jitter just as well and keeps those faults visible.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

#: Entry of a stream's description (``desc/<name>`` = value) saying that its timestamps are
#: made by a replay (:class:`~bci_app.acquisition.replay.Replay`): no latency can be measured
#: on them, whatever their arrival delays.
REPLAY_MARK = ("timestamps", "replayed")

#: Seconds of (sample number, timestamp) pairs the line is fitted on.
WINDOW = 10.0
#: Seconds a stretch must span before its effective rate is reported.
RATE_SPAN = 5.0
#: Seconds a stretch must span before its slope is fitted whatever its precision (before:
#: the fitted slope is used once known to 1 %, else the declared or last measured rate).
_MIN_FIT_SPAN = 1.0
#: Multiple of the jitter (robust standard deviation) below which a deviation is jitter.
_JITTER_SIGMAS = 5.0
#: Seconds of recent samples remembered to recognise a duplicate.
_DUPLICATE_MEMORY = 1.0
#: Chunks whose arrival delays (arrival - timestamp of their last sample) are kept.
_ARRIVALS = 25
#: Median arrival delay range (s) of timestamps on this machine's clock: a sample cannot
#: arrive before its timestamp (beyond clock synchronisation error), and a live stream's
#: samples arrive within a second.
_AHEAD, _BEHIND = 0.005, 1.0
#: After a clock jump, timestamps count as on this machine's clock again only when their
#: arrival delay is back within this much (s) of its value before the jump.
_REJOIN = 0.1
#: A forward step of the timestamps this much (s) larger than the time elapsed between the
#: arrivals is a clock jump, not missing samples.
_CLOCK_JUMP = 1.0


@dataclass
class Discontinuity:
    """A break in a stream's timestamps.

    Attributes
    ----------
    start : float
        Timestamp (as delivered) of the last sample before it.
    end : float | None
        Timestamp (as delivered) of the first sample after it.
    reason : str
        ``"discontinuity"`` (samples missing) or ``"clock jump"``.
    """

    start: float
    end: float | None
    reason: str


def _increasing(out, last, step):
    """``out`` raised where needed so that it rises by at least ``step`` from ``last`` on."""
    k = np.arange(out.size)
    floor = np.maximum.accumulate(np.maximum(out - k * step, last + step))
    return floor + k * step


class StreamClock:
    """Regularised timestamps, discontinuities, duplicates and rate of one stream.

    Parameters
    ----------
    sfreq : float
        Declared sampling rate, Hz.
    tolerance : float | None
        Smallest deviation from the regularised clock that can be a discontinuity, s
        (default: the larger of 0.1 s and 10 sampling periods; raised to 5 times the
        measured jitter).
    dejitter : bool
        Deliver the regularised timestamps (default) rather than the received ones
        (discontinuities are found on the regularised clock either way).
    window : float
        Seconds of samples the line is fitted on.
    """

    def __init__(self, sfreq, tolerance=None, dejitter=True, window=WINDOW):
        self.sfreq = float(sfreq)
        self.tolerance = (max(0.1, 10.0 / self.sfreq) if tolerance is None
                          else float(tolerance))
        self.dejitter = bool(dejitter)
        self._window = max(round(window * self.sfreq), 64)
        self._memory = max(round(_DUPLICATE_MEMORY * self.sfreq), 64)
        self.n_duplicates = 0
        self.n_out_of_order = 0
        self.measured_rate = None
        self.jitter = 0.0
        self._prior = 1.0 / self.sfreq  # slope of a new stretch: declared, then measured
        self._arrivals = deque(maxlen=_ARRIVALS)
        self._baseline = None  # arrival delay before a clock jump
        self.reset()

    def reset(self):
        """Start a new stretch with the next samples (e.g. after a loss, or on a reopened
        inlet): no discontinuity is reported between the last samples and the next ones."""
        self._seen_ts, self._seen_data = np.empty(0), None
        self._t_ref = None
        self._hn, self._ht = np.empty(0), np.empty(0)
        self._next = self._jitter_at = 0
        self._a, self._b = 0.0, self._prior
        self._last_raw = self._last_out = self._last_arrival = None
        self._arrivals.clear()

    # -- duplicates ---------------------------------------------------------------------------
    def drop_duplicates(self, timestamps, data):
        """Which samples to keep: not a copy of a recent sample (same timestamp and values),
        with a finite timestamp.

        Parameters
        ----------
        timestamps : ndarray, shape (n_samples,)
        data : ndarray, shape (n_channels, n_samples)

        Returns
        -------
        keep : ndarray of bool, shape (n_samples,)
        """
        ts = np.asarray(timestamps, dtype=float)
        keep = np.isfinite(ts)
        self.n_out_of_order += int(ts.size - np.count_nonzero(keep))
        seen = self._seen_ts.size
        stamps = np.concatenate([self._seen_ts, ts])
        order = np.argsort(stamps, kind="stable")
        ordered = stamps[order]
        for p in np.flatnonzero(ordered[1:] == ordered[:-1]) + 1:
            earlier, later = order[p - 1], order[p]  # stable sort: earlier comes first
            if later < seen:
                continue
            before = self._seen_data[:, earlier] if earlier < seen else data[:, earlier - seen]
            if np.array_equal(before, data[:, later - seen], equal_nan=True):
                keep[later - seen] = False
        self.n_duplicates += int(np.count_nonzero(~keep & np.isfinite(ts)))
        kept = data[:, keep]
        self._seen_ts = np.concatenate([self._seen_ts, ts[keep]])[-self._memory:]
        self._seen_data = kept[:, -self._memory:] if self._seen_data is None else \
            np.concatenate([self._seen_data, kept], axis=1)[:, -self._memory:]
        return keep

    # -- regularisation -----------------------------------------------------------------------
    @property
    def current_tolerance(self):
        """Deviation (s) beyond which samples are off the regularised clock."""
        return max(self.tolerance, _JITTER_SIGMAS * self.jitter)

    def push(self, timestamps, arrivals):
        """Follow the next samples (duplicates already dropped).

        Only the samples up to the next possible discontinuity are taken: call again with
        the rest, so that each discontinuity starts a new chunk.

        Parameters
        ----------
        timestamps : ndarray, shape (n_samples,)
            Received timestamps.
        arrivals : ndarray, shape (n_samples,)
            LSL time at which each sample reached this process.

        Returns
        -------
        n_taken : int
            Samples taken (the first ``n_taken``).
        timestamps : ndarray, shape (n_taken,)
            Their timestamps, regularised when ``dejitter``.
        discontinuity : Discontinuity | None
            A discontinuity just before the first of them.
        """
        ts = np.asarray(timestamps, dtype=float)
        arrivals = np.asarray(arrivals, dtype=float)
        jump = None
        if ts.size == 0:
            return 0, ts, None
        if self._t_ref is None:  # first samples of a stream, or after reset()
            self._t_ref = ts[0]
            steps = np.diff(ts)
        else:
            tol = self.current_tolerance
            steps = np.diff(ts, prepend=self._last_raw)
            breaks = np.flatnonzero((steps > tol + self._b) | (steps < -tol))
            later = breaks[breaks > 0]
            if later.size:
                ts, arrivals, steps = ts[:later[0]], arrivals[:later[0]], steps[:later[0]]
            if breaks.size and breaks[0] == 0:
                jump = self._discontinuity(ts, arrivals[0], tol)
            if jump is not None:
                if jump.reason == "clock jump" and self.on_local_clock:
                    self._baseline = self.arrival_delay
                steps = steps[1:]
                self._t_ref, self._hn, self._ht = ts[0], np.empty(0), np.empty(0)
                self._next = self._jitter_at = 0
                self._a, self._b, self._last_out = 0.0, self._prior, None
                self._arrivals.clear()
        self.n_out_of_order += int(np.count_nonzero(steps <= 0))
        n = self._next + np.arange(ts.size, dtype=float)
        self._hn = np.concatenate([self._hn, n])[-self._window:]
        self._ht = np.concatenate([self._ht, ts - self._t_ref])[-self._window:]
        self._next += ts.size
        self._fit()
        if self.dejitter:
            out = self._t_ref + (self._a + self._b * n)
            if self._last_out is not None:
                out = _increasing(out, self._last_out, 0.5 * self._b)
        else:
            out = ts.copy()
        if jump is not None:
            jump.end = float(out[0])
        ends = np.append(np.flatnonzero(np.diff(arrivals) != 0), ts.size - 1)
        self._arrivals.extend((arrivals[ends] - out[ends]).tolist())
        self._last_raw, self._last_out, self._last_arrival = ts[-1], out[-1], arrivals[-1]
        return ts.size, out, jump

    def _discontinuity(self, piece, arrival, tol):
        """The discontinuity before ``piece`` (a stretch without a large step), or None."""
        n = self._next + np.arange(piece.size)
        off = float(np.median(piece - self._t_ref - (self._a + self._b * n)))
        step = float(piece[0] - self._last_raw)
        if off > tol and step > tol + self._b:
            elapsed = arrival - self._last_arrival
            reason = "clock jump" if step - elapsed > _CLOCK_JUMP else "discontinuity"
        elif off < -tol and step < -tol:
            reason = "clock jump"
        else:
            return None
        return Discontinuity(float(self._last_out), None, reason)

    def _fit(self):
        n, t = self._hn, self._ht
        nm, tm = n.mean(), t.mean()
        dn = n - nm
        sxx = float(dn @ dn)
        b = self._prior
        if sxx > 0:
            slope = float(dn @ (t - tm)) / sxx
            resid = t - tm - slope * dn
            error = np.sqrt(float(resid @ resid) / max(n.size - 2, 1) / sxx)
            span = (n[-1] - n[0]) * max(slope, 0.0)  # seconds, on the fitted clock
            if slope > 0 and (span >= _MIN_FIT_SPAN or
                              (error < 0.01 * b and 0.5 * b < slope < 2.0 * b)):
                b = slope
                if span >= RATE_SPAN:
                    self.measured_rate = 1.0 / slope
                    self._prior = slope
        self._a, self._b = tm - b * nm, b
        # The jitter (two medians, the costly part) is measured four times a second.
        if n.size < self.sfreq or self._next >= self._jitter_at + self.sfreq / 4:
            self._jitter_at = self._next
            resid = t - (self._a + b * n)
            self.jitter = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))

    # -- reports ------------------------------------------------------------------------------
    def faults(self, name, rate_tolerance):
        """The timing faults seen so far, as (kind, message) pairs for stream ``name``:
        ``"duplicates"``, ``"out of order"``, and ``"rate"`` when the measured rate is more
        than ``rate_tolerance`` (relative) off the declared one."""
        if self.n_duplicates:
            yield "duplicates", (
                f"EEG input: {name!r}: duplicated samples dropped (sent again with the same "
                f"timestamps and values; {self.n_duplicates} so far). The amplifier's driver "
                "or its connection resends data: check them if it goes on.")
        if self.n_out_of_order:
            what = ("repaired by regularising the clock" if self.dejitter else
                    "left as they are (dejitter is off)")
            yield "out of order", (
                f"EEG input: {name!r}: timestamps out of order ({self.n_out_of_order} so far "
                f"stepped back or repeated; jitter about {1e3 * self.jitter:.0f} ms), {what}. "
                "If it goes on, check the amplifier's driver and its clock.")
        rate = self.measured_rate
        if rate is not None and abs(rate / self.sfreq - 1.0) > rate_tolerance:
            yield "rate", (
                f"EEG input: {name!r} declares {self.sfreq:g} Hz but delivers {rate:.1f} Hz "
                f"(measured on its timestamps, {100 * abs(rate / self.sfreq - 1):.0f} % off). "
                "Filters, windows and models assume the declared rate: set the amplifier (or "
                "its driver) to a rate it really delivers and reconnect.")

    # -- clock --------------------------------------------------------------------------------
    @property
    def on_local_clock(self):
        """True when the recent timestamps are consistent with this machine's clock: their
        samples arrived after them (within the clock synchronisation error) and within a
        second of them (median over the last chunks of the current stretch)."""
        if not self._arrivals:
            return False
        delay = float(np.median(self._arrivals))
        if self._baseline is not None and abs(delay - self._baseline) > _REJOIN:
            return False  # the clock jumped and has not come back
        return -_AHEAD <= delay <= _BEHIND

    @property
    def arrival_delay(self):
        """Median delay (s) from the timestamp of a chunk's last sample to its arrival, over
        the last chunks (None before any)."""
        return float(np.median(self._arrivals)) if self._arrivals else None
