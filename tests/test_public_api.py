"""`import cosim` gives the public API (lazily) and a version; `cosim --version` prints it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cosim
from cosim.cli import main


def test_every_public_name_resolves():
    for name in cosim.__all__:
        assert getattr(cosim, name) is not None, name
    assert issubclass(cosim.InputError, cosim.CosimError) and issubclass(cosim.RunError, cosim.CosimError)
    assert cosim.make_controller("none").plan is not None


def test_import_cosim_is_light():
    code = "import sys, cosim; print(any(m in sys.modules for m in ('mosaik', 'pandapower', 'pandas')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"cosim {cosim.__version__}"


def test_log_level_must_be_known(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--log-level", "loud", "validate"])
    assert exit_.value.code == 2
    assert "log level 'loud' is not one of" in capsys.readouterr().err
