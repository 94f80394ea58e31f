"""synth.models.Progress over st.progress: ingest stages shown as one bar with a caption."""

from __future__ import annotations

import streamlit as st


class StreamlitProgress:
    """Each stage (scan, parse, embed) restarts the bar; the caption says which and how far."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="Starting...")
        self.total = 1
        self.done = 0
        self.stage = ""

    def start(self, stage: str, total: int) -> None:
        self.stage, self.total, self.done = stage, max(total, 1), 0
        self.bar.progress(0.0, text=f"{stage}: 0 / {total}")

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.bar.progress(
            min(self.done / self.total, 1.0), text=f"{self.stage}: {self.done} / {self.total}"
        )

    def close(self) -> None:
        self.bar.empty()
