"""Helper for bad-input tests through the real command line (`cosim.cli.main`, in this process)."""

from __future__ import annotations

from pathlib import Path

from cosim.cli import main


def run_fails(tmp_path: Path, scenario: str, capsys) -> str:
    """`cosim run` on `scenario` (TOML text) must exit 2 with one line naming the file, print nothing on stdout and
    write nothing; returns that line."""
    path = tmp_path / "s.toml"
    path.write_text(scenario)
    assert main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not (tmp_path / "out").exists()  # nothing written
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert str(path) in lines[0]
    return lines[0]
