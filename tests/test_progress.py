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
