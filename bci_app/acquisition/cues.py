"""A fixed cue cycle for a stand-alone simulated amplifier (``bci-app simulate --auto``).

:class:`CueCycle` plays rest, then the imagery of each class in turn, with rest between two
classes, round and round. Each cue is a marker (``rest`` or the class name): it is published
on the LSL stream ``<amplifier name>-markers`` (so that an online decoder or a recorder can
log it) and given to the amplifier as any marker it follows
(:meth:`~bci_app.acquisition.simulator.SimulatedAmplifier.handle_marker`), both stamped at
the cue's scheduled time. The schedule depends only on the durations and on the time of the
first :meth:`CueCycle.poll`: a late poll sends the cues it missed with their own
timestamps.
"""

from .._logging import logger
from ..errors import ConfigError, StreamError
from .simulation import CLASS_AREAS

#: The marker of a rest period.
REST = "rest"


class CueCycle:
    """Rest, then each class in turn (rest between two classes), round and round.

    Parameters
    ----------
    amp : SimulatedAmplifier
        The amplifier whose imagined class follows the cues.
    classes : sequence of str
        Classes of the cycle, in order (classes of
        :data:`~bci_app.acquisition.simulation.CLASS_AREAS`); none: rest only.
    rest_s, imagery_s : float
        Length of a rest period and of an imagery period, s (> 0).

    Raises
    ------
    ConfigError
        Unknown class or a duration that is not positive.
    """

    def __init__(self, amp, classes, rest_s, imagery_s):
        unknown = [c for c in classes if c not in CLASS_AREAS]
        if unknown:
            raise ConfigError(f"cue cycle: unknown class(es) {unknown}; the simulator knows "
                              f"{sorted(CLASS_AREAS)}.")
        if not (rest_s > 0 and imagery_s > 0):
            raise ConfigError(f"cue cycle: rest and imagery must last > 0 s, got "
                              f"{rest_s} and {imagery_s}.")
        self._amp = amp
        self.name = f"{amp.name}-markers"
        self.plan = [(REST, float(rest_s))]
        for k, label in enumerate(classes):
            self.plan += [(label, float(imagery_s))] + ([(REST, float(rest_s))]
                                                         if k < len(classes) - 1 else [])
        self._outlet = None
        self._index = 0
        self._next = None

    def open(self):
        """Create the marker outlet (once); returns self.

        Raises
        ------
        StreamError
            If liblsl cannot create it.
        """
        if self._outlet is not None:
            return self
        from mne_lsl.lsl import StreamInfo, StreamOutlet

        try:
            info = StreamInfo(self.name, "Markers", 1, 0.0, "string",
                              f"{self._amp.source_id}-cues")
            self._outlet = StreamOutlet(info)
        except Exception as exc:
            raise StreamError(f"cue cycle: cannot create the LSL marker outlet "
                              f"{self.name!r} ({exc}).") from exc
        logger.info("cue cycle: markers on %r (%s).", self.name,
                    ", ".join(f"{label} {s:g} s" for label, s in self.plan))
        return self

    def poll(self, now=None):
        """Send every cue due at ``now``; the first call starts the cycle at ``now``.

        Parameters
        ----------
        now : float | None
            LSL time (:func:`mne_lsl.lsl.local_clock`); None: now. A time ahead of the
            clock sends the cues due by then in advance, stamped at their own times.

        Returns
        -------
        sent : list of (float, str)
            The cues sent by this call: (LSL timestamp, marker).
        """
        if now is None:
            from mne_lsl.lsl import local_clock

            now = local_clock()
        if self._next is None:
            self._next = now
        sent = []
        while self._next <= now:
            marker, duration = self.plan[self._index]
            stamp = self._next
            self._amp.handle_marker(marker, stamp)
            if self._outlet is not None:
                self._outlet.push_sample([marker], stamp)
            sent.append((stamp, marker))
            self._index = (self._index + 1) % len(self.plan)
            self._next = stamp + duration
        return sent

    def close(self):
        """Destroy the marker outlet. Safe to call twice."""
        outlet, self._outlet = self._outlet, None
        destroy = getattr(outlet, "_del", None)  # explicit, as mne-lsl's own player does
        if destroy is not None:
            destroy()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc_info):
        self.close()
