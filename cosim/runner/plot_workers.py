"""A run's figures drawn beside it: `PlotWorkers` forks, as the run starts, one fork server per figure process (up
to `PROCESSES`, one per core the run may use). Each imports matplotlib and draws a tiny figure (fonts found and
loaded, caches filled) while the run simulates. When the run's tables are final, each server forks a worker; the
workers take the figures one at a time from a shared queue (a pipe holding one byte per figure) until it is empty,
while the run's own process reads the tables and builds report.html around the figures; the run waits for them,
then writes the page. What the run waits for is the drawing alone, split over the processes: the import and the
warm-up happened during the simulation.

Why processes and not threads: matplotlib's drawing is Python under the GIL. Process hygiene is the controllers'
(`cosim.controllers.forkserver.ForkServer`): servers and workers die with the run (SIGKILL included), ignore the
terminal's Ctrl-C (the run's business; it closes them), and `close()` kills a worker and its server at once. The run
closes them as soon as the figures are drawn, and whatever ends it.
"""

from __future__ import annotations

import gc
import io
import os
import pickle
import select
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from cosim.controllers.forkserver import ForkServer, ServerGone
from cosim.runner.figure_style import Figure
from cosim.runner.figures import FIGURES

__all__ = ["PROCESSES", "PlotError", "PlotWorkers", "processes_wanted"]

PROCESSES = 4
"""Figure processes of a run at most, one per core the run may use (each pays matplotlib's import, during the
simulation; beyond four the figures, ten or eleven, no longer split evenly)."""
LAUNCH_TIMEOUT_S = 120.0  # a server answers once its warm-up is done (seconds on a loaded machine)
END_TIMEOUT_S = 10.0  # a worker that has answered is reaped by its server within this


SLOWEST_FIRST = ("plan_vs_reality", "network", "voltage_heatmap", "line_loading_heatmap", "lots")
"""Figures that take longest to draw (benchmarks/plots.py), queued first so that the processes end together."""


def queue_order() -> list[int]:
    """Every place of the report's order (a city's figures are as many), the slowest figures first."""
    names = [f.__name__ for f in FIGURES]
    first = [names.index(name) for name in SLOWEST_FIRST if name in names]
    return first + [i for i in range(len(names)) if i not in first]


class PlotError(RuntimeError):
    """A figure process failed (an error in a figure, or the process ended without an answer); the run's tables
    are untouched. The worker's traceback is a note of the exception."""


def processes_wanted() -> int:
    """`PROCESSES`, or fewer where this process may run on fewer cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(PROCESSES, cores))


def _warm_up() -> None:
    """In each server, while the run simulates: matplotlib and the figure modules imported, fonts loaded, the text
    and tick machinery exercised once."""
    import cosim.runner.figures_city  # noqa: F401, PLC0415 - the worker's imports, done once here
    import cosim.runner.report  # noqa: F401, PLC0415
    from cosim.runner.figure_style import Writer  # noqa: PLC0415 - matplotlib only in the figure processes

    w = Writer(Path(os.devnull), "png", 20)
    with w.style():
        fig, ax = w.figure(1.0, 1.0)
        points = ax.scatter([0.0, 1.0], [0.0, 1.0], c=[0.0, 1.0], label="warm-up")
        ax.set_xlabel("x (h)")
        ax.legend()
        fig.colorbar(points, ax=ax).set_label("c")
        fig.savefig(io.BytesIO(), dpi=20, format="png")
        w.plt.close(fig)
    gc.freeze()  # what the server holds now is never collected in a worker (whose collector would copy its pages)


def _queue(fd: int) -> Iterator[int]:
    """The places of the figures left to draw, one byte each from the processes' shared pipe: a pipe hands each
    byte to one reader, so each figure is drawn once, by whichever process is free first."""
    while byte := os.read(fd, 1):
        yield byte[0]


def _work(request: bytes, result_fd: int, queue_fd: int) -> None:
    """In a worker: draw figures from the shared queue (`cosim.runner.report.draw_part`) until it is empty and write
    the answer to `result_fd`, a pickled dict: "kind" ("ok", "bad input" or "error"), "figures" [(place, path,
    caption), ...] or "error" (one line) and "traceback", and "cpu_s" (this worker's CPU seconds)."""
    from cosim.runner.report import ReportError, draw_part, write_error  # noqa: PLC0415

    kwargs = pickle.loads(request)
    answer: dict[str, Any]
    try:
        figures = draw_part(**kwargs, places=_queue(queue_fd))
        answer = {"kind": "ok", "figures": [(i, str(f.path), f.caption) for i, f in figures]}
    except ReportError as exc:
        answer = {"kind": "bad input", "error": str(exc)}
    except OSError as exc:
        answer = {"kind": "bad input", "error": str(write_error(Path(kwargs["run_dir"]), exc))}
    except Exception as exc:  # noqa: BLE001 - any error in a figure goes back to the run as its one line
        answer = {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    answer["cpu_s"] = time.process_time()
    with os.fdopen(result_fd, "wb") as fh:
        fh.write(pickle.dumps(answer))


class PlotWorkers:
    """`with PlotWorkers() as workers:` starts the figure processes (warming up at once); `launch(...)` sets each
    drawing its share, `collect()` waits for them; `close()` (idempotent) kills whatever is left."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or processes_wanted()
        self.servers: list[ForkServer] = []
        self._pipes: list[int] = []
        self.cpu_s: list[float] = []  # each worker's CPU seconds in the last `collect` (benchmarks/plots.py)

    def start(self) -> "PlotWorkers":
        """Fork the servers; where this process cannot fork (a process limit, no memory), none: the run then draws
        its figures in its own process."""
        try:
            for _ in range(self.processes):
                self.servers.append(ForkServer(_work, preload=_warm_up).start())
        except OSError:
            self.close()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> "PlotWorkers":
        return self.start() if not self.servers else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def launch(self, **request: Any) -> bool:
        """Start one worker in each process on `request` (`draw_part`'s arguments); the workers share the queue of
        figures to draw. False when a process is gone (killed from outside): then the caller draws them all."""
        if not self.servers:
            return False
        queue_read, queue_write = os.pipe()
        os.write(queue_write, bytes(queue_order()))
        os.close(queue_write)
        try:
            for server in self.servers:
                read_fd, write_fd = os.pipe()
                self._pipes.append(read_fd)
                try:
                    server.launch(pickle.dumps(request), write_fd, queue_read, timeout_s=LAUNCH_TIMEOUT_S)
                finally:
                    os.close(write_fd)
        except ServerGone:
            self.close()
            return False
        finally:
            os.close(queue_read)
        return True

    def collect(self) -> list[tuple[int, Figure]]:
        """The figures the processes drew, (place in the report's order, figure), once all have answered; raises
        `ReportError` for bad input (as drawing in this process would), `PlotError` for anything else."""
        from cosim.runner.report import ReportError  # noqa: PLC0415 - report imports this module

        data = {fd: bytearray() for fd in self._pipes}
        open_fds = list(self._pipes)
        while open_fds:
            for fd in select.select(open_fds, [], [])[0]:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    data[fd] += chunk
                else:
                    open_fds.remove(fd)
        statuses = [server.ended(END_TIMEOUT_S) for server in self.servers]
        drawn: list[tuple[int, Figure]] = []
        self.cpu_s = []
        for (fd, raw), status in zip(data.items(), statuses):
            try:
                answer = pickle.loads(bytes(raw))
            except Exception:  # noqa: BLE001 - no answer, or half of one: the worker was killed
                raise PlotError(f"a figure process ended without an answer (wait status {status})") from None
            self.cpu_s.append(float(answer["cpu_s"]))
            if answer["kind"] == "bad input":
                raise ReportError(answer["error"])
            if answer["kind"] == "error":
                error = PlotError(f"in a figure process: {answer['error']}")
                error.add_note(f"the figure process's traceback:\n{answer['traceback']}")
                raise error
            drawn += [(i, Figure(Path(path), caption)) for i, path, caption in answer["figures"]]
        self._close_pipes()
        return sorted(drawn, key=lambda item: item[0])

    def _close_pipes(self) -> None:
        for fd in self._pipes:
            try:
                os.close(fd)
            except OSError:
                pass
        self._pipes = []

    def close(self) -> None:
        """Kill each worker still drawing and its server (SIGTERM, SIGKILL after 2 s); idempotent."""
        servers, self.servers = self.servers, []
        for server in servers:
            server.close()
        self._close_pipes()
