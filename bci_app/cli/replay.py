"""``bci-app replay``: publish a recording as LSL streams in real time."""

from . import _options as opt

NAME = "replay"


def add_parser(subparsers):
    """Add ``replay`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="publish a recording as LSL streams in real time",
        description="Replay a recording (EDF, BDF, GDF, FIF, BrainVision, EEGLAB..., or a "
                    "BIDS run with its events, as the application records them) as an LSL "
                    "EEG stream and its annotations as string markers on "
                    "'<name>-annotations', at real-time speed.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--name", default="bci-app-replay", help="stream name (default: %(default)s)")
    p.add_argument("--chunk-size", type=int, default=10, help="samples per chunk")
    p.add_argument("--repeat", type=int, default=1, help="times to play the file")
    p.add_argument("--loop", action="store_true", help="play until Ctrl-C")
    opt.add_event_map(p, "rename annotations, e.g. T1=left_hand T2=right_hand")
    opt.add_network(p)
    opt.add_verbose(p)
    return p


def run(args):
    """Replay until the end (or Ctrl-C); returns 0."""
    import numpy as np

    from ..acquisition.lsl import use_loopback
    from ..acquisition.replay import Replay

    replay = Replay(args.file, name=args.name, chunk_size=args.chunk_size,
                    repeat=np.inf if args.loop else args.repeat,
                    event_map=opt.parse_event_map(args.event_map))
    raw = replay.raw
    if not args.network:
        use_loopback()
    with replay:
        print(f"replaying {args.file} as {replay.name!r}: {len(raw.ch_names)} channels at "
              f"{raw.info['sfreq']:g} Hz, {replay.duration:.1f} s"
              + (f", markers on {replay.marker_stream!r}" if replay.marker_stream else "")
              + "; Ctrl-C to stop", flush=True)
        try:
            replay.wait()
        except KeyboardInterrupt:
            pass
    print("replay ended")
    return 0
