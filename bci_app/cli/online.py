"""``bci-app online``: decode a live LSL EEG stream with a trained model."""

import json
import time
from pathlib import Path

from ..errors import UsageError
from . import _options as opt

NAME = "online"


def add_parser(subparsers):
    """Add ``online`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="decode a live LSL EEG stream with a trained model",
        description="Connect to an LSL EEG stream, check it against the model (channels, "
                    "rate), and decode it window by window on a worker thread. Decisions are "
                    "printed as they change; predictions, markers, status changes and gaps "
                    "are logged under --log. Stops on Ctrl-C or after --duration.")
    p.add_argument("--model", metavar="FILE.bcimodel", help="a model from `bci-app train`")
    p.add_argument("--stream", default=None, metavar="NAME",
                   help="EEG stream name (default: the only stream of type --type)")
    p.add_argument("--type", default="EEG",
                   help="EEG stream type, case-insensitive (default: %(default)s)")
    p.add_argument("--source-id", default=None, metavar="ID",
                   help="the EEG stream's source id, when several streams share its name "
                        "(see --list)")
    p.add_argument("--markers", default=None, metavar="STREAM",
                   help="a marker stream to log with the predictions")
    p.add_argument("--list", action="store_true", help="list the LSL streams and exit")
    p.add_argument("--step", type=float, default=None, help="window step, s (default: model's)")
    opt.add_decision(p, smoothing="ONLINE_SMOOTHING")
    p.add_argument("--duration", type=float, default=None, help="stop after this many s")
    p.add_argument("--log", default=None, metavar="DIR",
                   help="folder for predictions.csv and events.csv (default: "
                        "recordings/online/<date-time>)")
    p.add_argument("--unit-scale", type=float, default=None,
                   help="multiply samples by this to get volts (e.g. 1e-6 for undeclared uV)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the stream (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    opt.add_network(p)
    opt.add_verbose(p)
    return p


class _Printer:
    """Prints the decoder's status changes, markers, and decisions when they change."""

    def __init__(self):
        self.decision = None

    def __call__(self, kind, payload):
        if kind == "status":
            print(f"[{payload.status}] {payload.message}", flush=True)
        elif kind == "markers":
            for stamp, text in payload:
                print(f"{stamp:12.3f}  marker {text}", flush=True)
        elif kind == "predictions":
            for t, d, p in zip(payload.times, payload.decisions, payload.smoothed):
                if d != self.decision:
                    self.decision = d
                    probs = " ".join(f"{c}={v:.2f}" for c, v in zip(payload.classes, p))
                    print(f"{t:12.3f}  {d:<12} {probs}", flush=True)


def _list_streams():
    from ..acquisition.lsl import list_streams

    streams = list_streams(timeout=1.0)
    print("\n".join(f"{d}  [source_id {d.source_id!r}]" for d in streams)
          or "no LSL stream found")
    return 0


def _wait(online, duration):
    """Until the decoder stops, ``duration`` s pass, or Ctrl-C."""
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while online.is_running and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        online.stop()


def run(args):
    """Decode until Ctrl-C or ``--duration``, then write and print the summary; returns 0."""
    from ..acquisition.lsl import use_loopback
    from ..acquisition.stream import EEGInput, MarkerInput
    from ..decoding.persistence import load_model
    from ..errors import StreamError
    from ..online.engine import WindowedDecoder
    from ..online.live import OnlineDecoder

    if not args.network:
        use_loopback()
    if args.list:
        return _list_streams()
    if not args.model:
        raise UsageError("--model FILE.bcimodel is required (train one with `bci-app train`).")
    trained = load_model(args.model)
    overrides = opt.decision_settings(args)
    if args.step is not None:
        overrides["step_s"] = args.step
    decoder = WindowedDecoder.from_model(trained, **overrides)
    log = Path(args.log) if args.log else (
        Path("recordings") / "online" / time.strftime("%Y%m%d-%H%M%S"))
    eeg = EEGInput(args.stream, args.type, channels=trained.ch_names, sfreq=trained.sfreq,
                   timeout=args.timeout, unit_scale=args.unit_scale,
                   source_id=args.source_id)
    markers = MarkerInput(args.markers, timeout=args.timeout) if args.markers else None
    online = OnlineDecoder(decoder, eeg, markers=markers, log_dir=log)
    if not args.quiet:
        online.subscribe(_Printer())
    online.start()
    print(f"decoding {eeg.description} with {trained.name!r} "
          f"(classes {', '.join(trained.classes)}; window {decoder.window_s} s, step "
          f"{decoder.step_s} s); log in {log}; Ctrl-C to stop", flush=True)
    _wait(online, args.duration)
    summary = online.summary()
    (log / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if "latency_p50_ms" in summary:
        lat = (f"latency p50 {summary['latency_p50_ms']:.1f} ms, p95 "
               f"{summary['latency_p95_ms']:.1f} ms")
    else:  # a replay's timestamps, or a clock jump: no latency can be measured
        lat = "latency unavailable (timestamps not on this machine's clock)" \
            if summary["windows"] else "no window"
    print(f"{summary['windows']} windows from {summary['samples']} samples, "
          f"{summary['gaps']} gap(s); {lat}; decisions {summary.get('decisions', {})}")
    if online.error is not None:
        raise StreamError(f"decoding stopped on an error: {online.error}")
    return 0
