"""Online decoding: the windowed engine on a live LSL stream, on a worker thread.

:class:`OnlineDecoder` reads an :class:`~bci_app.acquisition.stream.EEGInput` (and optionally a
:class:`~bci_app.acquisition.stream.MarkerInput`), pushes every chunk into the same
:class:`~bci_app.online.engine.WindowedDecoder` that pseudo-online sweeps use, and hands each
batch of predictions to its subscribers (the GUI, the console) and to a log on disk.

Each prediction carries the LSL timestamp of its window's last sample and the time it was
emitted (wall clock and LSL clock), so ``emitted_lsl - time`` is the latency from the sample to
its decision where the clocks allow it (:meth:`~bci_app.acquisition.stream.EEGInput.latency_of`:
not for a replay's recorded timestamps, not across a clock jump; the log's ``latency_ms`` is
then empty). After a gap in the stream (loss, dropped samples) the engine restarts its filter
and windows: no window ever spans a gap.

Bad signal (NaN, flat, implausible amplitude) and windows the model fails on give the
decision ``artifact`` (no decision) with its reason, never a command, and the worker goes on:
decisions resume by themselves once the windows are clear of the fault. When no window has
been decided for :data:`ALERT_AFTER_S`, subscribers get a ``("status", StreamEvent)`` of
status :data:`ALERT` (the reason in its message), then one of status :data:`RESUMED` when a
window is decided again; the decoder goes on either way. Only a failure outside the
decoding of windows (the stream itself) stops the worker (:attr:`OnlineDecoder.error`).

Logs (appended and flushed as they come, readable even if the process dies):

``predictions.csv``
    time, emitted_lsl, emitted_wall, latency_ms, sample (index since the stream was opened),
    label, decision, then the smoothed probability of each class (``p_<class>``; empty for
    an ``artifact`` decision), then ``reason`` (why a window got no decision).
``events.csv``
    time, wall_time, kind (``status``, ``gap``, ``marker``, ``artifact``), text, and for gaps
    start/end. ``artifact`` rows: the first window of a stretch without decision and its
    reason, each change of reason, and the window decided again after it.
"""

import csv
import threading
import time
from pathlib import Path

import numpy as np

from .._logging import logger
from .._utils import Subscribers
from ..acquisition.stream import CLOSED, CONNECTED, StreamEvent
from ..errors import StreamError
from .feedback import ARTIFACT_CODE, FEEDBACK_NAME, FeedbackOutlet, decision_codes
from .statistics import DecodingStatistics

#: Seconds without any decided window (every window ``artifact``) before an alert.
ALERT_AFTER_S = 5.0
#: Status of the decoder's alert: no window decided for ``alert_after_s``.
ALERT = "alert"
#: Status once a window is decided again after an alert.
RESUMED = "resumed"
# ARTIFACT_CODE: ``decision`` code of an ``artifact`` window on the predictions outlet (-1
# is idle by the threshold; class codes are 0 and up; its probabilities are NaN), defined
# with the other codes of the LSL outputs in bci_app.online.feedback.


class _CsvLog:
    """A CSV file written row by row and flushed, so a crash loses at most the last row."""

    def __init__(self, path, header):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._fh)
        if new:
            self._writer.writerow(header)
            self._fh.flush()

    def write(self, rows):
        self._writer.writerows(rows)
        self._fh.flush()

    def close(self):
        self._fh.close()


class OnlineDecoder:
    """Decode a live EEG stream on a worker thread.

    Parameters
    ----------
    decoder : WindowedDecoder
        The engine (fitted model, window, step, filter, decision rule).
    eeg : EEGInput
        The EEG stream (connected by :meth:`start` if it is not yet).
    markers : MarkerInput | None
        A marker stream to log alongside (connected by :meth:`start` if needed).
    log_dir : str | Path | None
        Folder for ``predictions.csv`` and ``events.csv`` (None: no log files).
    blas_threads : int | None
        Limit of BLAS/OpenMP threads while decoding (1 keeps latency steady and leaves the
        other cores to acquisition and display); None leaves the libraries' default.
    poll_timeout : float
        Longest wait for new samples before the stream's health is checked again, s.
    publish : str | None
        Name of an LSL outlet on which every prediction is also published (type
        ``"Predictions"``, float32, irregular rate, one channel per class with the smoothed
        probability ``p_<class>``, then ``decision``: the index of the decided class in
        ``classes``, -1 for a threshold "idle", :data:`ARTIFACT_CODE` (NaN probabilities)
        for no decision), stamped with the time of the window's last sample, so a recorder
        (LabRecorder) stores them beside the EEG and the markers.
    alert_after_s : float
        Seconds without a decided window before an :data:`ALERT` (see the module's doc).
    feedback : str | None
        Name of the feedback stream published beside the predictions when ``publish`` is
        given: the one simple stream an FES device, robot or game follows (value toward a
        class, decision, confidence; its contract: :mod:`bci_app.online.feedback`). None:
        not published.

    Subscribers are called from the worker thread with ``(kind, payload)``:
    ``("samples", Chunk)`` (every chunk received, in volts, before filtering: for signal
    displays and recorders), ``("predictions", Predictions)``, ``("status", StreamEvent)``,
    ``("markers", list of (timestamp, text))``. They must return quickly (a GUI should post to its own thread).

    Attributes
    ----------
    stats : DecodingStatistics
        Windows, decisions, reasons of no decision and latencies so far (bounded memory).
    alerts : int
        Alerts raised so far.
    """

    def __init__(self, decoder, eeg, markers=None, log_dir=None, blas_threads=1,
                 poll_timeout=0.02, publish=None, alert_after_s=ALERT_AFTER_S,
                 feedback=FEEDBACK_NAME):
        self.decoder = decoder
        self.eeg = eeg
        self.markers = markers
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.blas_threads = blas_threads
        self.poll_timeout = float(poll_timeout)
        self._subscribers = Subscribers("online decoder")
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.error = None
        self.stats = DecodingStatistics()
        self.alert_after_s = float(alert_after_s)
        self.alerts = 0
        self._bad = None  # the stretch without decision going on: [first time, windows, reason]
        self._alerted = False
        self._sample_offset = 0
        self._logs = {}
        self.publish = publish
        self._outlet = None
        self.feedback = feedback
        self._feedback = None
        self.eeg.subscribe(self._on_status)

    @property
    def n_windows(self):
        """Windows decoded so far."""
        return self.stats.n_windows

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(self, callback):
        """Call ``callback(kind, payload)`` for predictions, status changes and markers."""
        self._subscribers.add(callback)

    def _publish(self, kind, payload):
        self._subscribers.notify(kind, payload)  # a faulty subscriber must not stop decoding

    def _on_status(self, event):
        self._log_event(event.time, event.wall_time, "status", f"{event.status}: {event.message}")
        if event.gap is not None and event.gap.end is not None:
            self._log_event(event.time, event.wall_time, "gap", event.gap.reason,
                            event.gap.start, event.gap.end)
        self._publish("status", event)

    # -- logs ---------------------------------------------------------------------------------
    def _open_logs(self):
        if self.log_dir is None:
            return
        classes = [str(c) for c in self.decoder.classes]
        self._logs["predictions"] = _CsvLog(
            self.log_dir / "predictions.csv",
            ["time", "emitted_lsl", "emitted_wall", "latency_ms", "sample", "label",
             "decision"] + [f"p_{c}" for c in classes] + ["reason"])
        self._logs["events"] = _CsvLog(self.log_dir / "events.csv",
                                       ["time", "wall_time", "kind", "text", "gap_start",
                                        "gap_end"])

    def _log_event(self, t, wall, kind, text, start="", end=""):
        log = self._logs.get("events")
        if log is not None:
            log.write([[f"{t:.6f}", f"{wall:.6f}", kind, text,
                        f"{start:.6f}" if start != "" else "", f"{end:.6f}" if end != "" else ""]])

    def _log_predictions(self, pred, samples, latencies):
        log = self._logs.get("predictions")
        if log is None:
            return
        lat = np.asarray(latencies) * 1e3
        log.write([[f"{pred.times[i]:.6f}", f"{pred.emitted_lsl[i]:.6f}",
                    f"{pred.emitted[i]:.6f}", f"{lat[i]:.3f}" if np.isfinite(lat[i]) else "",
                    int(samples[i]),
                    pred.labels[i], pred.decisions[i]]
                   + [f"{v:.6f}" if np.isfinite(v) else "" for v in pred.smoothed[i]]
                   + [pred.reasons[i]] for i in range(len(pred))])

    def _open_outlet(self):
        from mne_lsl.lsl import StreamInfo, StreamOutlet

        from ..protocol.lsl_meta import MANUFACTURER, PREDICTIONS_TYPE, describe_stream

        classes = [str(c) for c in self.decoder.classes]
        info = StreamInfo(self.publish, PREDICTIONS_TYPE, len(classes) + 1, 0.0, "float32",
                          f"{self.publish}-{self.eeg.description.source_id or 'eeg'}")
        # By the XDF conventions: every channel's label, type and unit, and the maker.
        describe_stream(info, labels=[f"p_{c}" for c in classes] + ["decision"],
                        types=["Probability"] * len(classes) + ["Decision"],
                        units=["none"] * (len(classes) + 1),
                        acquisition={"manufacturer": MANUFACTURER, "model": "online decoder"},
                        classes=",".join(classes), artifact_code=str(ARTIFACT_CODE),
                        eeg_stream=self.eeg.description.name)
        self._outlet = StreamOutlet(info)

    def _publish_outlet(self, pred):
        codes = decision_codes(pred.decisions, pred.classes)
        values = np.column_stack([pred.smoothed.astype(np.float32), codes])
        for row, stamp in zip(values, pred.times):
            self._outlet.push_sample(row, float(stamp))

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def is_running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Connect the streams (errors are raised here) and start decoding.

        Returns
        -------
        self : OnlineDecoder
        """
        if self.is_running:
            raise StreamError("online decoder: already running; stop() it first.")
        if self.eeg.status != CONNECTED:
            self.eeg.connect()
        self.decoder.ch_names = list(self.eeg.ch_names)
        if abs(self.eeg.sfreq - self.decoder.sfreq) > 1e-3:
            raise StreamError(f"LSL stream {self.eeg.description.name!r} runs at "
                              f"{self.eeg.sfreq:g} Hz but the decoder expects "
                              f"{self.decoder.sfreq:g} Hz.")
        self.decoder._check_model_info()
        if self.markers is not None and self.markers.description is None:
            self.markers.connect()
        self._open_logs()
        if self.publish:
            self._open_outlet()
            if self.feedback:
                self._feedback = FeedbackOutlet(
                    self.decoder.classes, self.feedback,
                    self.eeg.description.source_id or self.eeg.description.name,
                    self.eeg.description.name)
        self._log_event(_now(), time.time(), "status",
                        f"connected: decoding {self.eeg.description} with window "
                        f"{self.decoder.window_s} s, step {self.decoder.step_s} s")
        self.decoder.reset()
        self._sample_offset = self.eeg.n_samples
        self._bad, self._alerted = None, False
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(target=self._run, name="bci-app-online", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stop decoding, close the streams and the logs. Safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        self.eeg.close()
        if self.markers is not None:
            self.markers.close()
        for log in self._logs.values():
            log.close()
        self._logs = {}
        feedback, self._feedback = self._feedback, None
        if feedback is not None:  # its end sample, then it closes
            feedback.close()
        outlet, self._outlet = self._outlet, None
        if outlet is not None:
            destroy = getattr(outlet, "_del", None)
            if destroy is not None:
                destroy()

    def wait(self, timeout=None):
        """Block until the worker ends (after :meth:`stop` or an error) or ``timeout``."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_running

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- worker -------------------------------------------------------------------------------
    def _run(self):
        limiter = None
        if self.blas_threads:
            from threadpoolctl import threadpool_limits

            limiter = threadpool_limits(limits=int(self.blas_threads))
        try:
            while not self._stop.is_set():
                self._step()
        except Exception as exc:
            self.error = exc
            logger.exception("online: decoding stopped on an error: %s", exc)
            self._status(CLOSED, _now(), f"decoding stopped on an error: {exc}")
        finally:
            if limiter is not None:
                limiter.restore_original_limits()

    def _step(self):
        chunk = self.eeg.read(timeout=self.poll_timeout)
        if self.markers is not None:
            markers = self.markers.read()
            if markers:
                for stamp, text in markers:
                    self._log_event(stamp, time.time(), "marker", text)
                self._publish("markers", markers)
        if chunk is None:
            return
        self._publish("samples", chunk)
        if chunk.gap is not None:
            # Never build a window across a gap: restart filter, windows and smoothing.
            if chunk.gap.reason != "stream lost":  # losses are logged by _on_status
                self._log_event(chunk.gap.detected, time.time(), "gap", chunk.gap.reason,
                                chunk.gap.start, chunk.gap.end)
            self.decoder.reset()
            self._sample_offset = self.eeg.n_samples - chunk.timestamps.size
        try:
            pred = self.decoder.push(chunk.data, chunk.timestamps)
        except Exception as exc:  # the windows of this chunk are lost, not the decoder
            reason = f"decoding error: {type(exc).__name__}: {exc}"
            if self._bad is None or self._bad[2] != reason:  # once per stretch and reason
                logger.exception("online: decoding a chunk failed: %s", exc)
            self.decoder.reset()  # start again from the next chunk, as after a gap
            self._sample_offset = self.eeg.n_samples
            self._no_decision(float(chunk.timestamps[-1]), reason, 0)
            return
        if len(pred) == 0:
            return
        samples = self._sample_offset + pred.last
        # Latency only where the clocks allow it (not for a replay, not across a clock jump).
        latencies = self.eeg.latency_of(pred.times, pred.emitted_lsl)
        self.stats.add(latencies, pred.decisions, pred.reasons)
        self._log_predictions(pred, samples, latencies)
        if self._outlet is not None:
            self._publish_outlet(pred)
        if self._feedback is not None:
            self._feedback.push(pred)
        self._publish("predictions", pred)
        self._track_artifacts(pred)

    # -- windows without decision -------------------------------------------------------------
    def _track_artifacts(self, pred):
        artifact = pred.artifacts
        for i in range(len(pred)):
            if artifact[i]:
                self._no_decision(float(pred.times[i]), str(pred.reasons[i]), 1)
            elif self._bad is not None:
                self._decided_again(float(pred.times[i]))

    def _no_decision(self, t, reason, n_windows):
        """A window (or a chunk that could not be decoded) without decision at ``t``."""
        if self._bad is None:
            self._bad = [t, 0, None]
        first, count, last_reason = self._bad
        if reason != last_reason:
            self._log_event(t, time.time(), "artifact", f"no decision: {reason}")
        self._bad = [first, count + n_windows, reason]
        if not self._alerted and t - first >= self.alert_after_s:
            self._alerted = True
            self.alerts += 1
            text = (f"no decision for {t - first:.1f} s ({count + n_windows} windows): "
                    f"{reason}. Check the electrodes and the amplifier; decoding goes on "
                    "and resumes by itself once the signal is EEG again.")
            logger.warning("online: %s", text)
            self._status(ALERT, t, text)

    def _decided_again(self, t):
        first, count, _ = self._bad
        text = f"decisions again after {count} windows ({t - first:.2f} s) without decision"
        self._log_event(t, time.time(), "artifact", text)
        if self._alerted:
            logger.info("online: %s", text)
            self._status(RESUMED, t, text)
        self._bad, self._alerted = None, False

    def _status(self, status, t, text):
        event = StreamEvent(status, self.eeg.description.name, t, text)
        self._log_event(t, event.wall_time, "status", f"{status}: {text}")
        self._publish("status", event)

    # -- summary ------------------------------------------------------------------------------
    def summary(self):
        """Counts and latency percentiles (ms) so far (see
        :meth:`~bci_app.online.statistics.DecodingStatistics.summary`), with ``samples``,
        ``gaps``, ``alerts`` and, if the worker stopped on one, ``error``."""
        out = self.stats.summary()
        out.update({"samples": int(self.eeg.n_samples), "gaps": len(self.eeg.gaps),
                    "alerts": int(self.alerts)})
        if self.error is not None:
            out["error"] = f"{type(self.error).__name__}: {self.error}"
        return out


def _now():
    from mne_lsl.lsl import local_clock

    return local_clock()
