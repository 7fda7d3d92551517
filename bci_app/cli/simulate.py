"""``bci-app simulate``: stream synthetic motor-imagery EEG over LSL (simulated amplifier)."""

import time

from ..errors import UsageError
from . import _options as opt

NAME = "simulate"


def add_parser(subparsers):
    """Add ``simulate`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="stream synthetic motor-imagery EEG over LSL (simulated amplifier)",
        description="Publish synthetic motor-imagery EEG as an LSL stream (type EEG, float32, "
                    "microvolts, described by the XDF meta-data conventions) until Ctrl-C or "
                    "--duration. The imagined class follows the markers of --markers: a class name (left_hand, right_hand, feet) starts "
                    "its imagery, rest/idle/end go back to rest. LSL stays on this machine "
                    "unless --network is given or your own LSL configuration (LSLAPICFG, "
                    "lsl_api.cfg) is found.")
    p.add_argument("--name", default="bci-app-sim", help="LSL stream name (default: %(default)s)")
    p.add_argument("--channels", nargs="+", default=None, metavar="CH",
                   help="10-05 channel names (default: 22 sensorimotor channels)")
    p.add_argument("--sfreq", type=float, default=250.0,
                   help="sampling rate, Hz (default: %(default)s)")
    p.add_argument("--chunk-size", type=int, default=10,
                   help="samples per pushed chunk (default: %(default)s)")
    p.add_argument("--skill", type=float, default=0.8,
                   help="simulated subject skill in [0, 1], the depth of the imagery ERD "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same signal)")
    p.add_argument("--markers", default=None, metavar="STREAM",
                   help="name of an LSL marker stream to follow (e.g. the protocol's)")
    p.add_argument("--marker-map", nargs="+", default=None, metavar="MARKER=CLASS",
                   help="extra markers, e.g. 769=left_hand 770=right_hand pause=rest")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--no-artifacts", action="store_true", help="no blinks or muscle bursts")
    p.add_argument("--network", action="store_true",
                   help="use liblsl's network configuration instead of keeping LSL on "
                        "this machine")
    opt.add_verbose(p)
    p.add_argument("--auto", action="store_true",
                   help="run a built-in cue cycle (rest, then imagery of each class in "
                        "turn) and publish its markers on '<name>-markers'")
    p.add_argument("--classes", nargs="+", default=["left_hand", "right_hand"],
                   metavar="CLASS", help="classes of the --auto cycle (default: %(default)s)")
    p.add_argument("--rest", type=float, default=3.0, help="--auto rest period, s")
    p.add_argument("--imagery", type=float, default=4.0, help="--auto imagery period, s")
    return p


def _marker_map(items):
    """``--marker-map`` as a dict; the rest markers (and ``none``) map to None."""
    from ..acquisition.simulator import REST_MARKERS

    return {marker: None if label.lower() in REST_MARKERS + ("none",) else label
            for marker, label in opt.parse_pairs(items, "--marker-map",
                                                 "MARKER=CLASS").items()}


def _cue_cycle(args, amp):
    """The ``--auto`` cue cycle of ``amp`` (its arguments checked as usage errors)."""
    from ..acquisition.cues import CueCycle
    from ..errors import ConfigError

    if args.markers:
        raise UsageError("--auto runs its own cue cycle: do not combine it with --markers.")
    try:
        return CueCycle(amp, args.classes, args.rest, args.imagery)
    except ConfigError as err:
        raise UsageError(f"--classes/--rest/--imagery: {err}") from err


def run(args):
    """Stream until Ctrl-C or ``--duration``; returns 0."""
    from ..acquisition.lsl import use_loopback
    from ..acquisition.simulation import DEFAULT_CHANNELS
    from ..acquisition.simulator import SimulatedAmplifier
    from ..errors import StreamError

    marker_map = _marker_map(args.marker_map)
    if not args.network:
        use_loopback()
    amp = SimulatedAmplifier(
        name=args.name, ch_names=args.channels or DEFAULT_CHANNELS, sfreq=args.sfreq,
        chunk_size=args.chunk_size, skill=args.skill, seed=args.seed,
        marker_stream=args.markers, marker_map=marker_map, artifacts=not args.no_artifacts)
    cue = _cue_cycle(args, amp) if args.auto else None
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with amp:
        if cue is not None:
            cue.open()
        print(f"streaming {amp.name!r}: {len(amp.ch_names)} channels at {amp.sfreq:g} Hz, "
              f"type {amp.stype}, {amp.unit} (source_id {amp.source_id})"
              + (f", following markers of {args.markers!r}" if args.markers else "")
              + (f", cue cycle markers on {cue.name!r}" if cue else "")
              + "; Ctrl-C to stop", flush=True)
        try:
            while amp.is_running and (deadline is None or time.monotonic() < deadline):
                if cue is not None:
                    cue.poll()
                time.sleep(0.02)
        except KeyboardInterrupt:
            pass  # Ctrl-C is the normal way to stop
        finally:
            if cue is not None:
                cue.close()
    if amp.error is not None:
        raise StreamError(f"streaming stopped on an error: {amp.error}")
    print(f"stopped after {amp.samples_pushed} samples "
          f"({amp.samples_pushed / amp.sfreq:.1f} s)")
    return 0
