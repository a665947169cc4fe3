"""Market prices (energy, reserve) and load profiles from shipped CSV data, and their mosaik simulator."""

from simulators.market.profiles import (
    SEASONS,
    USD_PER_EUR,
    MarketData,
    ProfileError,
    load_market,
    load_profile,
    read_hourly_table,
)

__all__ = ["SEASONS", "USD_PER_EUR", "MarketData", "ProfileError", "load_market", "load_profile",
           "read_hourly_table"]
