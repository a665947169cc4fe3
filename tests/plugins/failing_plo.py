"""A PLO-side exchange mode whose PL1 fails in its first offer hook (tests/runner/test_separate_processes.py):
`how = "raise"` raises ZeroDivisionError, `how = "exit"` ends its process with os._exit(7). Each instance (one per
agent) leaves an empty file `pid-<its process id>` in `out_dir`. Otherwise it offers like the centralised mode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cosim.exchange.centralised import Centralised


class FailingPlo(Centralised):
    name = "failing-plo"

    def __init__(self, max_rounds: int = 5, how: str = "raise", out_dir: str = ".") -> None:
        super().__init__(max_rounds)
        self.how = how
        self.out_dir = Path(out_dir)
        (self.out_dir / f"pid-{os.getpid()}").touch()

    def plo_offer(self, plo) -> dict[str, Any] | None:
        if plo.lot_id == "PL1":
            if self.how == "exit":
                os._exit(7)
            raise ZeroDivisionError("PL1 divides by zero")
        return super().plo_offer(plo)
