"""The runner layer: scenario -> mosaik world -> run folder (world, run, timing, postprocess, report)."""
