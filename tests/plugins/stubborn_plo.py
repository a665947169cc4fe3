"""A PLO-side exchange mode that makes its process hard to end (tests/runner/test_separate_processes.py): at the
first day-ahead offer each PLO starts a child (`sleep 300`), may ignore SIGTERM, and on the day starting at
`block_hour` blocks in its offer hook (sleeps 300 s). It writes `pids-<lot>.json` (its pid and its child's) and,
when it blocks, `blocking-<lot>` in `out_dir`. It offers like the centralised mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from cosim.exchange.centralised import Centralised


class StubbornPlo(Centralised):
    name = "stubborn-plo"

    def __init__(self, max_rounds: int = 5, block_hour: int = -1, ignore_sigterm: bool = False,
                 out_dir: str = ".") -> None:
        super().__init__(max_rounds)
        self.out_dir = Path(out_dir)
        self.block_hour = block_hour
        self.ignore_sigterm = ignore_sigterm
        self.child: subprocess.Popen | None = None

    def plo_offer(self, plo) -> dict[str, Any] | None:
        if self.child is None:
            self.child = subprocess.Popen(["sleep", "300"])
            if self.ignore_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pids = {"pid": os.getpid(), "child": self.child.pid}
            (self.out_dir / f"pids-{plo.lot_id}.json").write_text(json.dumps(pids))
        if plo.day_start == self.block_hour:
            (self.out_dir / f"blocking-{plo.lot_id}").write_text("")
            time.sleep(300)
        return super().plo_offer(plo)
