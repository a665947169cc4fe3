import os
import sys
from pathlib import Path

from hypothesis import settings

# tests/user_controller.py is loaded by dotted path ("user_controller:FlatChargeController") from scenarios
sys.path.insert(0, str(Path(__file__).parent))

# The suite must be reproducible (CI): hypothesis draws the same examples on every run. For a fresh random
# search set HYPOTHESIS_PROFILE=explore (and COSIM_FUZZ_EXAMPLES=2000 for the input fuzzers).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
