"""The recorder's progress in a log (stderr not a terminal): plain lines, not `\r` frames on one line."""

from simulators.recorder.simulator import RecorderSim


def _progress(tmp_path, capsys, time_resolution: float, steps: int) -> str:
    """What a recorder with a progress total of `steps` writes to stderr over `steps` steps of `time_resolution` s."""
    sim = RecorderSim()
    sim.init("Recorder-0", time_resolution=time_resolution)
    sim.create(1, "Recorder", run_dir=str(tmp_path), tables={}, progress_total=steps)
    for t in range(steps):
        sim.step(t, {}, steps)
    sim.finalize()
    return capsys.readouterr().err


def test_progress_to_a_log_is_lines(tmp_path, capsys):
    err = _progress(tmp_path, capsys, 3600.0, 24)
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0].startswith("co-simulation: 0/24 h") and lines[-1].startswith("co-simulation: 24/24 h")


def test_no_progress_without_total(tmp_path, capsys):
    sim = RecorderSim()
    sim.create(1, "Recorder", run_dir=str(tmp_path), tables={})
    sim.step(0, {}, 24)
    sim.finalize()
    assert capsys.readouterr().err == ""


def test_progress_counts_steps(tmp_path, capsys):
    assert _progress(tmp_path, capsys, 900.0, 96).splitlines()[-1].startswith("co-simulation: 96/96 step")
