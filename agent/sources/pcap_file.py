"""Source: a capture file (pcap or pcapng), read once from start to end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from agent.sources.capture_file import CaptureError, CaptureFile

FRAME_LINKTYPES = {105: "802.11", 127: "radiotap"}  # what the frame parser reads (agent/pipeline/parse.py)
KNOWN_LINKTYPES = {0: "NULL/loopback", 1: "Ethernet", 101: "raw IP", 113: "Linux cooked", 119: "Prism",
                   163: "AVS", 192: "PPI", 276: "Linux cooked v2"}


def check_linktype(path: Path, linktype: int) -> None:
    """CaptureError unless the frames are 802.11 the parser reads (-1: not known yet, no packets)."""
    if linktype >= 0 and linktype not in FRAME_LINKTYPES:
        name = KNOWN_LINKTYPES.get(linktype, "not 802.11")
        raise CaptureError(f"{path}: link type {linktype} ({name}) is not 802.11 (105) or radiotap (127): "
                           "capture on a monitor-mode interface")


class PcapFileSource:
    """Batches of `batch_frames` frames from a capture file; `problem` is set if the file is damaged."""

    def __init__(self, path: str | Path, batch_frames: int = 4096) -> None:
        self.capture = CaptureFile(path)
        self.linktype = self.capture.linktype
        try:
            check_linktype(self.capture.path, self.linktype)
        except CaptureError:
            self.capture.close()
            raise
        self.batch_frames = batch_frames
        self.counters: dict[str, int] = {}
        self.problem: str | None = None

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        batch: list[tuple[float, bytes]] = []
        size = self.batch_frames
        for frame in self.capture:
            batch.append(frame)
            if len(batch) >= size:
                if self.linktype < 0:
                    self.linktype = self.capture.linktype
                    check_linktype(self.capture.path, self.linktype)
                yield batch
                batch = []
                if stop.is_set():
                    self.capture.close()
                    break
        if batch:
            self.linktype = self.capture.linktype
            check_linktype(self.capture.path, self.linktype)
            yield batch
        self.counters["frames"] = self.capture.frames_n
        if self.capture.skipped_other_linktype:
            self.counters["other_linktype"] = self.capture.skipped_other_linktype
        if self.capture.problem:
            self.counters["truncated_file"] = 1
            self.problem = self.capture.problem
