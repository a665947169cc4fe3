import os

from hypothesis import settings

# The suite must be reproducible (CI): hypothesis draws the same examples on every run. For a fresh random
# search set HYPOTHESIS_PROFILE=explore (and COSIM_FUZZ_EXAMPLES=2000 for the input fuzzers).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
