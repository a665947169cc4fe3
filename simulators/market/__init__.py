"""Market prices (energy, reserve) and load profiles from shipped CSV data, per simulation step, and their mosaik
simulator."""

from simulators.market.profiles import (
    SEASONS,
    USD_PER_EUR,
    MarketData,
    ProfileError,
    ProfileStepError,
    load_market,
    load_profile,
    read_hourly_table,
    read_step_table,
)

__all__ = ["SEASONS", "USD_PER_EUR", "MarketData", "ProfileError", "ProfileStepError", "load_market", "load_profile",
           "read_hourly_table", "read_step_table"]
