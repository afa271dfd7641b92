"""Source: a capture file (pcap or pcapng), read once from start to end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from agent.sources.capture_file import CaptureFile


class PcapFileSource:
    """Batches of `batch_frames` frames from a capture file; `problem` is set if the file is damaged."""

    def __init__(self, path: str | Path, batch_frames: int = 4096) -> None:
        self.capture = CaptureFile(path)
        self.linktype = self.capture.linktype
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
                yield batch
                batch = []
                if stop.is_set():
                    self.capture.close()
                    break
        if batch:
            self.linktype = self.capture.linktype
            yield batch
        self.counters["frames"] = self.capture.frames_n
        if self.capture.skipped_other_linktype:
            self.counters["other_linktype"] = self.capture.skipped_other_linktype
        if self.capture.problem:
            self.counters["truncated_file"] = 1
            self.problem = self.capture.problem
