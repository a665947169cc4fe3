"""Parking-lot simulator: EV visits and contracts, fleet generators, allocation rules, the SimPy lot
model, the seed-000 preset and the mosaik wrapper ``ParkingSim``."""
from .allocation import ALLOCATION_RULES, get_allocation, register_allocation
from .ev import EV, EVSpecError
from .fleet import BatteryClass, FleetFileError, load_fleet_csv, save_fleet_csv, stochastic_fleet
from .lot import LotConfigError, ParkingLot
from .presets import hour_type, hour_types, joape2024_fleet, preset_fleet

__all__ = [
    "ALLOCATION_RULES", "get_allocation", "register_allocation", "EV", "EVSpecError", "BatteryClass",
    "FleetFileError", "load_fleet_csv", "save_fleet_csv", "stochastic_fleet",
    "LotConfigError", "ParkingLot", "hour_type", "hour_types", "joape2024_fleet", "preset_fleet",
]
