"""A run's figures drawn beside it: `PlotWorkers` forks, as the run starts, one figure server (a
`cosim.controllers.forkserver.ForkServer`) that imports matplotlib and draws a tiny figure (fonts found and loaded,
caches filled) while the run simulates. When the run's tables are final, the server forks a worker, which forks
helpers from its warm self (one per core the run may use, up to `PROCESSES` drawing processes in all: matplotlib is
imported once); they take the figures one at a time from a shared queue (a pipe holding one byte per figure) until
it is empty, while the run's own process reads the tables and builds report.html around the figures. The worker
gathers the helpers' answers into one; the run waits for it, then writes the page. What the run waits for is the
drawing alone, split over the processes: the import and the warm-up happened during the simulation.

Why processes and not threads: matplotlib's drawing is Python under the GIL. Process hygiene is the controllers'
(`cosim.controllers.forkserver.ForkServer`): the server and its worker die with the run (SIGKILL included), ignore
the terminal's Ctrl-C (the run's business; it closes them), and `close()` kills the worker's process group, which
holds its helpers, and the server at once; each helper also dies with the worker. The run closes them as soon as
the figures are drawn, and whatever ends it.
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
from cosim.controllers.reaper import die_with_parent
from cosim.runner.figure_style import Figure
from cosim.runner.figures import FIGURES

__all__ = ["PROCESSES", "PlotError", "PlotWorkers", "processes_wanted"]

PROCESSES = 4
"""Drawing processes of a run at most, one per core the run may use (beyond four the figures, ten or eleven, no
longer split evenly)."""
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


def _draw_answer(kwargs: dict[str, Any], queue_fd: int) -> dict[str, Any]:
    """Draw figures from the shared queue (`cosim.runner.report.draw_part`) until it is empty: a dict with "kind"
    ("ok", "bad input" or "error"), "figures" [(place, path, caption), ...] or "error" (one line) and "traceback",
    and "cpu_s" [this process's CPU seconds]."""
    from cosim.runner.report import ReportError, draw_part, write_error  # noqa: PLC0415

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
    answer["cpu_s"] = [time.process_time()]
    return answer


def _lost(status: int) -> dict[str, Any]:
    return {"kind": "lost", "error": f"a figure process ended without an answer (wait status {status})", "cpu_s": []}


def _work(request: bytes, result_fd: int, queue_fd: int) -> None:
    """In the server's worker: fork the helpers, draw with them from the shared queue, and write one answer for all
    (`_draw_answer`'s, the figures of all, the first failure otherwise) to `result_fd`."""
    kwargs = pickle.loads(request)
    helpers: list[tuple[int, int]] = []  # (pid, read end of its answer)
    me = os.getpid()
    for _ in range(int(kwargs.pop("processes")) - 1):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # a helper: in the worker's process group, dies with it
            try:
                os.close(read_fd)
                os.close(result_fd)
                die_with_parent(me)
                _write(write_fd, _draw_answer(kwargs, queue_fd))
            finally:
                os._exit(0)
        os.close(write_fd)
        helpers.append((pid, read_fd))
    answers = [_draw_answer(kwargs, queue_fd)]
    for pid, read_fd in helpers:
        with os.fdopen(read_fd, "rb") as fh:
            raw = fh.read()
        _, status = os.waitpid(pid, 0)
        try:
            answers.append(pickle.loads(raw))
        except Exception:  # noqa: BLE001 - no answer, or half of one: the helper was killed
            answers.append(_lost(status))
    failed = [a for a in answers if a["kind"] != "ok"]
    answer = dict(failed[0]) if failed else {"kind": "ok", "figures": [f for a in answers for f in a["figures"]]}
    answer["cpu_s"] = [cpu for a in answers for cpu in a["cpu_s"]]
    _write(result_fd, answer)


def _write(fd: int, answer: dict[str, Any]) -> None:
    with os.fdopen(fd, "wb") as fh:
        fh.write(pickle.dumps(answer))


class PlotWorkers:
    """`with PlotWorkers() as workers:` starts the figure server (warming up at once); `launch(...)` sets the
    figures drawing, `collect()` waits for them; `close()` (idempotent) kills whatever is left."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or processes_wanted()  # drawing processes: the worker and its helpers
        self.servers: list[ForkServer] = []  # the one server, while it is there
        self._pipe: int | None = None
        self.cpu_s: list[float] = []  # each drawing process's CPU seconds in the last `collect` (benchmarks/plots.py)

    def start(self) -> "PlotWorkers":
        """Fork the server; where this process cannot fork (a process limit, no memory), none: the run then draws
        its figures in its own process."""
        try:
            self.servers.append(ForkServer(_work, preload=_warm_up).start())
        except OSError:
            self.close()
        return self

    def __enter__(self) -> "PlotWorkers":
        return self.start() if not self.servers else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def launch(self, **request: Any) -> bool:
        """Start the worker on `request` (`draw_part`'s arguments); it and its helpers share the queue of figures to
        draw. False when the server is gone (killed from outside): then the caller draws them all."""
        if not self.servers:
            return False
        queue_read, queue_write = os.pipe()
        os.write(queue_write, bytes(queue_order()))
        os.close(queue_write)
        read_fd, write_fd = os.pipe()
        self._pipe = read_fd
        try:
            self.servers[0].launch(pickle.dumps({**request, "processes": self.processes}), write_fd, queue_read,
                                   timeout_s=LAUNCH_TIMEOUT_S)
        except ServerGone:
            self.close()
            return False
        finally:
            os.close(write_fd)
            os.close(queue_read)
        return True

    def collect(self) -> list[tuple[int, Figure]]:
        """The figures drawn, (place in the report's order, figure), once the worker has answered; raises
        `ReportError` for bad input (as drawing in this process would), `PlotError` for anything else."""
        from cosim.runner.report import ReportError  # noqa: PLC0415 - report imports this module

        assert self._pipe is not None and self.servers, "collect() without a launch()"
        raw = bytearray()
        while chunk := _read(self._pipe):
            raw += chunk
        status = self.servers[0].ended(END_TIMEOUT_S)
        self._close_pipe()
        try:
            answer = pickle.loads(bytes(raw))
        except Exception:  # noqa: BLE001 - no answer, or half of one: the worker was killed
            answer = _lost(status if status is not None else -1)
        self.cpu_s = [float(cpu) for cpu in answer["cpu_s"]]
        if answer["kind"] == "bad input":
            raise ReportError(answer["error"])
        if answer["kind"] == "lost":
            raise PlotError(answer["error"])
        if answer["kind"] == "error":
            error = PlotError(f"in a figure process: {answer['error']}")
            error.add_note(f"the figure process's traceback:\n{answer['traceback']}")
            raise error
        return sorted(((i, Figure(Path(path), caption)) for i, path, caption in answer["figures"]),
                      key=lambda item: item[0])

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            try:
                os.close(self._pipe)
            except OSError:
                pass
            self._pipe = None

    def close(self) -> None:
        """Kill the worker's process group (it and its helpers) and the server (SIGTERM, SIGKILL after 2 s);
        idempotent."""
        servers, self.servers = self.servers, []
        for server in servers:
            server.close()
        self._close_pipe()


def _read(fd: int) -> bytes:
    """The next bytes of a pipe, waiting in select (where a stop signal's handler runs at once)."""
    select.select([fd], [], [])
    return os.read(fd, 1 << 16)
