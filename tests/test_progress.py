"""cosim.progress: tqdm's bar on a terminal, one plain line per update anywhere else."""

import io

from cosim.progress import LineBar, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_non_terminal_gets_one_line_per_update_and_no_carriage_returns():
    out = io.StringIO()
    with progress_bar(3, "sweep s", "variations", stream=out, line_interval_s=0) as bar:
        for vid in ("a", "b", "c"):
            bar.set_postfix_str(f"{vid}: completed", refresh=False)
            bar.update()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("sweep s: 0/3 variations")  # the start, then one line per update
    assert [line.split(" [")[0] for line in lines[1:]] == [f"sweep s: {i}/3 variations" for i in (1, 2, 3)]
    assert lines[-1].endswith("c: completed")


def test_non_terminal_lines_are_throttled_but_the_last_state_is_written():
    out = io.StringIO()
    bar = progress_bar(24, "co-simulation", "h", stream=out, line_interval_s=3600)
    for _ in range(24):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert [line.split(" [")[0] for line in lines] == ["co-simulation: 0/24 h", "co-simulation: 24/24 h"]


def test_terminal_gets_the_redrawn_tqdm_bar():
    out = Terminal()
    bar = progress_bar(2, "co-simulation", "h", stream=out)
    assert not isinstance(bar, LineBar)
    bar.update(2)
    bar.close()
    assert "\r" in out.getvalue()


def test_disabled_bar_writes_nothing():
    out = io.StringIO()
    with progress_bar(2, "x", "h", stream=out, disable=True) as bar:
        bar.update(2)
    assert out.getvalue() == ""


class Clock:
    """The bar's clock, advanced by the test: a first hour of 100 s (start-up), then 1 s an hour."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_time_left_leaves_out_the_first_hour_and_says_unknown_until_it_is_done():
    out, clock = io.StringIO(), Clock()
    bar = progress_bar(24, "co-simulation", "h", stream=out, line_interval_s=0, one_off_steps=1)
    bar._time = clock  # tqdm reads its clock through this attribute
    bar.start_t = bar.last_print_t = clock.t
    clock.t = 100.0
    bar.update()  # hour 0 done: compile and start-up, 100 s
    for _ in range(3):
        clock.t += 1.0
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("co-simulation: 1/24 h [01:40 elapsed, ? left]")
    assert lines[2].startswith("co-simulation: 2/24 h [01:41 elapsed, 00:22 left]")  # 22 h at 1 s an hour
    assert lines[4].startswith("co-simulation: 4/24 h [01:43 elapsed, 00:20 left]")


def test_without_one_off_steps_the_estimate_is_tqdms_own():
    out, clock = io.StringIO(), Clock()
    bar = progress_bar(24, "co-simulation", "h", stream=out, line_interval_s=0)
    bar._time = clock
    bar.start_t = bar.last_print_t = clock.t
    clock.t = 100.0
    bar.update()
    bar.close()
    assert "? left" not in out.getvalue().splitlines()[1]  # 23 x 100 s: the estimate the steady rate replaces


def test_the_terminal_bar_uses_the_steady_rate_too():
    out, clock = Terminal(), Clock()
    bar = progress_bar(24, "co-simulation", "h", stream=out, one_off_steps=1)
    bar._time = clock
    bar.start_t = bar.last_print_t = clock.t
    clock.t = 100.0
    bar.update()
    clock.t = 101.0
    bar.update()
    assert "<00:22" in str(bar)
    bar.close()
