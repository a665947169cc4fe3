"""Many variations of a scenario (grid x list x seasons) run on Dask or local processes, with resume."""
