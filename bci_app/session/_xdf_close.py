"""Closing an XDF file whose writer ended without closing it: cut a partly written last chunk,
write the missing stream footers.

An XDF file (https://github.com/sccn/xdf/wiki/Specifications) is the magic ``XDF:`` then
chunks, each ``[NumLengthBytes: 1, 4 or 8][Length][Tag: uint16][content]`` (``Length``
counts the tag and the content). The tags used here: 2 StreamHeader, 3 Samples, 4
ClockOffset, 6 StreamFooter (content ``[StreamId: uint32]...``). A writer that ends before
closing its file (LabRecorder ended by :class:`~bci_app.session.recorder.XDFRecorder` once
everything of the run is written) leaves every stream without its footer, and maybe a last
chunk cut in the middle. :func:`close_xdf` removes that cut chunk (an incomplete chunk is
unreadable anyway) and appends one StreamFooter per stream, with the content LabRecorder
writes: first and last time stamps, sample count and the clock offsets measured (the last
time stamp is the last sample's, as readers compute it; LabRecorder writes one sample period
more when that stamp is implicit in the file).
"""

import mmap
import os
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import DataError

MAGIC = b"XDF:"
STREAM_HEADER, SAMPLES, CLOCK_OFFSET, STREAM_FOOTER = 2, 3, 4, 6
#: Bytes of one value of each LSL channel format (strings have a length each).
_VALUE_BYTES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4,
                "double64": 8}


def _varlen(data, pos):
    """A variable-length integer of XDF at ``pos``: (value, position after it)."""
    if pos >= len(data):
        raise IndexError("past the end")
    size = data[pos]
    if size not in (1, 4, 8):
        raise DataError(f"invalid XDF length field of {size} bytes")
    end = pos + 1 + size
    if end > len(data):
        raise IndexError("past the end")
    return int.from_bytes(data[pos + 1:end], "little"), end


class _Stream:
    """What a footer says of one stream, gathered from its chunks."""

    def __init__(self, header_xml):
        info = ET.fromstring(header_xml)
        self.n_channels = int(info.findtext("channel_count") or 0)
        self.format = (info.findtext("channel_format") or "float32").strip()
        if self.format != "string" and self.format not in _VALUE_BYTES:
            raise ValueError(f"unknown channel format {self.format!r}")
        srate = float(info.findtext("nominal_srate") or 0.0)
        self.interval = 1.0 / srate if srate > 0 else 0.0
        self.first = self.last = None
        self.count = 0
        self.chunks = []  # (start, end) of the content of each Samples chunk, in the file
        self.offsets = []
        self.footer = False

    def add_samples(self, data, start, end):
        """One Samples chunk (its content after the stream id is ``data[start:end]``): its
        count, and the stream's first time stamp if it is its first chunk."""
        n, pos = _varlen(data, start)
        if self.first is None and n:
            if data[pos] != 8:
                raise ValueError("the first sample of the stream has no time stamp")
            self.first = struct.unpack_from("<d", data, pos + 1)[0]
        self.count += n
        self.chunks.append((start, end))

    def _walk(self, data, start):
        """(samples of a Samples chunk, index and value of its last explicit time stamp)."""
        n, pos = _varlen(data, start)
        last = None
        for i in range(n):
            stamp_bytes = data[pos]
            pos += 1
            if stamp_bytes == 8:
                last = (i, struct.unpack_from("<d", data, pos)[0])
                pos += 8
            elif stamp_bytes != 0:
                raise ValueError(f"a time stamp of {stamp_bytes} bytes")
            if self.format == "string":
                for _ in range(self.n_channels):
                    length, pos = _varlen(data, pos)
                    pos += length
            else:
                pos += self.n_channels * _VALUE_BYTES[self.format]
        return n, last

    def find_last(self, data):
        """The last time stamp: the last explicit one, plus the nominal interval for each
        sample after it (elided stamps, as readers compute them). Only the last chunks are
        read."""
        after = 0
        for start, _ in reversed(self.chunks):
            n, last = self._walk(data, start)
            if last is not None:
                self.last = last[1] + (n - 1 - last[0] + after) * self.interval
                return
            after += n

    def footer_xml(self):
        """The StreamFooter content LabRecorder writes (16 significant digits)."""
        offsets = "".join(f"<offset><time>{t:.16g}</time><value>{v:.16g}</value></offset>"
                          for t, v in self.offsets)
        return ('<?xml version="1.0"?><info>'
                f"<first_timestamp>{float(self.first or 0.0)!r}</first_timestamp>"
                f"<last_timestamp>{float(self.last or 0.0)!r}</last_timestamp>"
                f"<sample_count>{self.count}</sample_count>"
                f"<clock_offsets>{offsets}</clock_offsets></info>")


def _chunk(tag, content):
    """One XDF chunk: length field, tag, content."""
    length = 2 + len(content)
    size = 1 if length < 256 else 4 if length < 2**32 else 8
    return bytes([size]) + length.to_bytes(size, "little") + struct.pack("<H", tag) + content


def _scan(data, path):
    """The streams of an XDF file's complete chunks, and where those chunks end."""
    streams, pos = {}, 4
    while pos < len(data):
        try:
            length, start = _varlen(data, pos)
        except IndexError:  # the length field itself is cut
            break
        end = start + length
        if length < 2 or end > len(data):  # a chunk cut by the writer's end
            break
        tag = struct.unpack_from("<H", data, start)[0]
        if tag in (STREAM_HEADER, SAMPLES, CLOCK_OFFSET, STREAM_FOOTER):
            try:
                sid = struct.unpack_from("<I", data, start + 2)[0]
                if tag == STREAM_HEADER:
                    streams[sid] = _Stream(bytes(data[start + 6:end]))
                elif sid in streams and tag == SAMPLES:
                    streams[sid].add_samples(data, start + 6, end)
                elif sid in streams and tag == CLOCK_OFFSET:
                    streams[sid].offsets.append(struct.unpack_from("<dd", data, start + 6))
                elif sid in streams:
                    streams[sid].footer = True
            except (ET.ParseError, IndexError, ValueError, struct.error, DataError) as exc:
                raise DataError(f"{path}: the chunk at byte {pos} (tag {tag}) cannot be "
                                f"read ({exc}).") from exc
        pos = end
    for stream in streams.values():
        if not stream.footer:
            try:
                stream.find_last(data)
            except (IndexError, ValueError, struct.error, DataError) as exc:
                raise DataError(f"{path}: the last samples cannot be read ({exc}).") from exc
    return streams, pos


def close_xdf(path):
    """Close an XDF file left open by its writer: cut a partly written last chunk, append a
    StreamFooter to every stream without one.

    Parameters
    ----------
    path : str | Path
        The XDF file (changed in place).

    Returns
    -------
    closed : dict
        ``cut_bytes``: the bytes removed at the end; ``footers``: per stream id given a
        footer, its ``first_timestamp``, ``last_timestamp``, ``sample_count`` and
        ``n_offsets`` (clock offsets).

    Raises
    ------
    DataError
        The file is no XDF file, or one of its complete chunks cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(4) != MAGIC:
            raise DataError(f"{path} is no XDF file (it does not start with 'XDF:').")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            size = len(data)
            streams, end = _scan(data, path)
    footers = {}
    with open(path, "r+b") as fh:
        fh.truncate(end)
        fh.seek(end)
        for sid, stream in streams.items():
            if stream.footer:
                continue
            fh.write(_chunk(STREAM_FOOTER, struct.pack("<I", sid)
                            + stream.footer_xml().encode("utf-8")))
            footers[sid] = {"first_timestamp": stream.first, "last_timestamp": stream.last,
                            "sample_count": stream.count, "n_offsets": len(stream.offsets)}
        fh.flush()
        os.fsync(fh.fileno())
    return {"cut_bytes": size - end, "footers": footers}
