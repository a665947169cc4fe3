import os
import signal

import pytest
from hypothesis import settings

# A suite started as a background job of a non-interactive shell (`nohup ... &`, some CI runners) inherits SIGINT
# ignored, and so would every `cosim run` it starts: the tests that press Ctrl-C on real processes need it to act
# as in a terminal. Python's own handler here is reset to the default in each child at exec, which Python then
# turns into KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The suite must be reproducible (CI): hypothesis draws the same examples on every run. For a fresh random
# search set HYPOTHESIS_PROFILE=explore (and COSIM_FUZZ_EXAMPLES=2000 for the input fuzzers).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_collection_modifyitems(config, items) -> None:
    """A test that recomputes the docs (`docs_recompute`, a minute) is also `slow`: `-m "not slow"` leaves it out."""
    for item in items:
        if item.get_closest_marker("docs_recompute") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
