"""The recorder's progress in a log (stderr not a terminal): plain lines, not `\r` frames on one line."""

from simulators.recorder.simulator import RecorderSim


def test_progress_to_a_log_is_lines(tmp_path, capsys):
    sim = RecorderSim()
    sim.init("Recorder-0", time_resolution=3600.0)
    sim.create(1, "Recorder", run_dir=str(tmp_path), tables={}, progress_total=24)
    for hour in range(24):
        sim.step(hour, {}, 24)
    sim.finalize()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0].startswith("co-simulation: 0/24 h") and lines[-1].startswith("co-simulation: 24/24 h")


def test_no_progress_without_total(tmp_path, capsys):
    sim = RecorderSim()
    sim.create(1, "Recorder", run_dir=str(tmp_path), tables={})
    sim.step(0, {}, 24)
    sim.finalize()
    assert capsys.readouterr().err == ""
