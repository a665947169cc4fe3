"""`cosim.runner.world`: a stop signal that lands while mosaik builds the world (between mosaik making an entity's
`create` coroutine and awaiting it) leaves that coroutine never awaited; Python would print a RuntimeWarning beside
the run's one stop line (seen in tests/sweep/test_sweep_safety.py's Ctrl-C test). `quiet_interrupted_creation`,
installed by `build_world`, ignores exactly mosaik's own coroutines; anyone else's still warns."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    from mosaik.async_scenario import AsyncModelMock
    if sys.argv[1] == "quiet":
        from cosim.runner.world import quiet_interrupted_creation
        quiet_interrupted_creation()
    async def ours():
        pass
    interrupted = AsyncModelMock.create(None, 1)  # mosaik's own coroutine, never awaited (as a stop leaves it)
    del interrupted
    if sys.argv[2] == "ours":
        mine = ours()  # a coroutine of ours never awaited: a bug, still reported
        del mine
""")


def _stderr(*args: str) -> str:
    done = subprocess.run([sys.executable, "-W", "default", "-c", SCRIPT, *args], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stderr


def test_mosaiks_interrupted_creation_is_quiet_and_other_coroutines_still_warn():
    assert "coroutine 'AsyncModelMock.create' was never awaited" in _stderr("loud", "-")
    assert _stderr("quiet", "-") == ""
    quiet_but_ours = _stderr("quiet", "ours")
    assert "coroutine 'ours' was never awaited" in quiet_but_ours and "AsyncModelMock" not in quiet_but_ours
