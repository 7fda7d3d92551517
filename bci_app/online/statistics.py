"""Statistics of an online decoder's windows in bounded memory, however long it runs.

Counts per decision and per reason of "no decision" are counters (a few keys); latencies go
to a fixed-size uniform reservoir (Vitter's algorithm R), from which the percentiles are
taken: exact while no more than :data:`LATENCY_RESERVOIR` windows have been seen, a uniform
sample of every latency after that. The maximum is exact.
"""

import numpy as np

from ..processing.quality import ARTIFACT

#: Latencies kept for the percentiles (8 bytes each): exact percentiles over the first ones
#: (68 min at 4 windows per second), over a uniform sample of all of them afterwards.
LATENCY_RESERVOIR = 16384
#: Distinct reasons of "no decision" counted by name; the rest are counted as ``"other"``.
MAX_REASONS = 20
#: Latency percentiles of the summary.
PERCENTILES = (50, 95, 99)


class DecodingStatistics:
    """Windows, decisions, reasons of "no decision" and latencies, in bounded memory.

    Parameters
    ----------
    capacity : int
        Latencies kept for the percentiles (:data:`LATENCY_RESERVOIR`).
    seed : int
        Seed of the reservoir's sampling.
    """

    def __init__(self, capacity=LATENCY_RESERVOIR, seed=0):
        self.capacity = int(capacity)
        self.n_windows = 0
        self.decisions = {}
        self.reasons = {}
        self.latency_max = -np.inf
        self._reservoir = np.empty(self.capacity)
        self._n_latencies = 0
        self._rng = np.random.default_rng(seed)

    def add(self, latencies, decisions, reasons=None):
        """Count a batch of windows.

        Parameters
        ----------
        latencies : array-like of float, shape (n,)
            Seconds from each window's last sample to its decision (non-finite ones are
            left out of the latency statistics).
        decisions : array-like of str, shape (n,)
        reasons : array-like of str, shape (n,) | None
            Why each window got no decision (empty for the others).
        """
        decisions = np.asarray(decisions).astype(str)
        self.n_windows += decisions.size
        for value, count in zip(*np.unique(decisions, return_counts=True)):
            self.decisions[str(value)] = self.decisions.get(str(value), 0) + int(count)
        if reasons is not None:
            reasons = np.asarray(reasons, dtype=object)[decisions == ARTIFACT]
            for value in reasons:
                key = str(value) if str(value) in self.reasons or \
                    len(self.reasons) < MAX_REASONS else "other"
                self.reasons[key] = self.reasons.get(key, 0) + 1
        self._add_latencies(np.asarray(latencies, dtype=float).ravel())

    def _add_latencies(self, values):
        values = values[np.isfinite(values)]
        if values.size == 0:
            return
        self.latency_max = max(self.latency_max, float(values.max()))
        n0, k = self._n_latencies, self.capacity
        fill = min(max(k - n0, 0), values.size)
        self._reservoir[n0:n0 + fill] = values[:fill]
        rest = values[fill:]
        if rest.size:  # item i (0-based) replaces a kept one with probability k / (i + 1)
            slot = self._rng.integers(0, n0 + fill + np.arange(rest.size) + 1)
            keep = slot < k
            self._reservoir[slot[keep]] = rest[keep]
        self._n_latencies += values.size

    @property
    def latencies(self):
        """The latencies kept (s): all of them, or a uniform sample of
        :attr:`capacity` of them."""
        return self._reservoir[:min(self._n_latencies, self.capacity)]

    @property
    def artifacts(self):
        """Windows decided :data:`~bci_app.processing.quality.ARTIFACT` (no decision)."""
        return self.decisions.get(ARTIFACT, 0)

    def summary(self):
        """``windows``; ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms``,
        ``latency_max_ms`` once a latency is known; ``decisions`` (count per decision,
        ``artifact`` included) once a window is decided; ``artifacts`` (windows with no
        decision) and ``artifact_reasons`` (their count per reason)."""
        out = {"windows": int(self.n_windows)}
        lat = self.latencies * 1e3
        if lat.size:
            out.update({f"latency_p{q}_ms": float(np.percentile(lat, q)) for q in PERCENTILES})
            out["latency_max_ms"] = self.latency_max * 1e3
        if self.decisions:
            out["decisions"] = dict(sorted(self.decisions.items()))
        out["artifacts"] = int(self.artifacts)
        out["artifact_reasons"] = dict(sorted(self.reasons.items(), key=lambda kv: -kv[1]))
        return out
