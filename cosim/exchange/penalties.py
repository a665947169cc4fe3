"""What the DSO pays for what goes wrong: the penalties of its convex grid model and of the welfare ledger.

One table for both, so that the ADMM mode's grid problem and the KPIs that judge every mode price a violation alike.
They are modelling choices of this study (stated, not measured): a kWh of overload or of unmet EV energy is worth
ten times a typical energy price, and a bus 0.01 p.u. below its limit for an hour costs as much as 1 kWh of
overload. Change them here; docs/EXCHANGE.md prints them from this module.
"""

from __future__ import annotations

OVERLOAD_USD_PER_KWH = 1.0
"""Per kWh of line flow above its rating (the rated apparent power's active part), per line (kW above x hours)."""

VOLTAGE_USD_PER_PU_H = 100.0
"""Per p.u. of voltage outside a bus's band, per bus and hour (0.01 p.u. for one hour: $1; for a step of step_h
hours, x step_h)."""

UNMET_USD_PER_KWH = 1.0
"""Per kWh of an EV's contracted energy not delivered by its departure."""

PENALTIES = {"overload_usd_per_kwh": OVERLOAD_USD_PER_KWH, "voltage_usd_per_pu_h": VOLTAGE_USD_PER_PU_H,
             "unmet_usd_per_kwh": UNMET_USD_PER_KWH}
