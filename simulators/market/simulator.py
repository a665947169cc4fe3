"""mosaik simulator that publishes market prices, load scaling and day-ahead forecasts from profile data, per step.

One time unit is one step: `time_resolution` 3600, 1800 or 900 s (60-, 30- or 15-minute steps; others refused).
Each "Market" entity serves one profile (see `simulators.market.profiles.load_market`) in the simulation's steps:
hourly data held over the steps of each hour, SimBench's 15-minute profiles native at 15 minutes and averaged at
30 or 60. At time t it outputs step t of the profile (wrapping past the end; `hour` is the step index t) and, as
day-ahead forecasts, the next `forecast_hours` hours' prices and loads starting at t: forecast_hours x
steps_per_hour values (24 h: 24, 48 or 96), perfect forecasts (the data itself) unless `forecast_noise` is set.

With the profile "simbench" (a SimBench network, named by the `network` parameter) two more outputs carry the
grid's own per-element profiles: `element_power` (this step's p_mw / q_mvar of every load and static generator
of the original net: {"load_p_mw": [...], "load_q_mvar": [...], "sgen_p_mw": [...], "sgen_q_mvar": [...]},
for the grid simulator) and `bus_load_forecast` (the forecast horizon's net load per bus of the radial model,
{"p_kw": one list of n_bus per step, "q_kvar": ...}, generators negative, for the DSO). Other profiles output
None there.
"""

from __future__ import annotations

from typing import Any

import mosaik_api_v3

from cosim.timebase import StepClock, StepError
from simulators.market.forecast_noise import noisy_forecast
from simulators.market.profiles import MarketData, ProfileError, ProfileStepError, load_market

HOURLY_ATTRS = ["energy_price", "reserve_capacity_price", "reserve_call_price", "call_probability",
                "load_scaling", "load_kw"]
FORECAST_ATTRS = ["price_forecast", "load_forecast", "load_scaling_forecast"]
ELEMENT_ATTRS = ["element_power", "bus_load_forecast"]

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Market": {
            "public": True,
            "params": ["profile", "season", "days", "start_day", "nominal_load_kw", "forecast_hours", "network",
                       "plugin_dir", "forecast_noise", "seed"],
            "attrs": ["hour", *HOURLY_ATTRS, *FORECAST_ATTRS, *ELEMENT_ATTRS],
        },
    },
}


class MarketSim(mosaik_api_v3.Simulator):
    """Per-step price/load signal source: energy_price $/kWh, reserve prices $/kW and $/kWh, load kW."""

    def __init__(self) -> None:
        super().__init__(META)
        self.eid_prefix = "Market_"
        self.markets: dict[str, MarketData] = {}
        self.forecast_hours: dict[str, int] = {}
        self.time = 0
        self.noise: dict[str, float] = {}
        self.seed = 0
        self.clock = StepClock()

    def init(self, sid: str, time_resolution: float = 3600.0, eid_prefix: str | None = None, **sim_params: Any):
        """`time_resolution`: seconds per time unit, one step (3600, 1800 or 900)."""
        try:
            self.clock = StepClock.from_time_resolution(time_resolution)
        except StepError as exc:
            raise ProfileStepError(f"MarketSim: {exc}") from None
        if sim_params:
            raise ProfileError(f"MarketSim: unknown sim params {sorted(sim_params)}")
        if eid_prefix is not None:
            self.eid_prefix = eid_prefix
        return self.meta

    def create(self, num: int, model: str, profile: str = "seed000", season: str | None = None,
               days: int | None = None, start_day: int = 0, nominal_load_kw: float | None = None,
               forecast_hours: int = 24, network: str | None = None,
               plugin_dir: str | None = None, forecast_noise: dict[str, float] | None = None,
               seed: int = 0) -> list[dict[str, Any]]:
        """`forecast_hours`: the forecasts' horizon in hours (forecast_hours x steps_per_hour values);
        `forecast_noise` ({"load_sigma", "price_sigma"}, relative 24-h-ahead errors): load and price forecasts
        with seeded errors per step (`simulators.market.forecast_noise`); the actual values stay exact."""
        if model != "Market":
            raise ProfileError(f"MarketSim has only the model 'Market', got {model!r}")
        if int(forecast_hours) < 1:
            raise ProfileError(f"forecast_hours must be >= 1, got {forecast_hours}")
        md = load_market(profile, season=season, days=days, start_day=start_day, nominal_load_kw=nominal_load_kw,
                         network=network, near=plugin_dir, step_minutes=self.clock.step_minutes)
        self.noise = {k: float(v) for k, v in (forecast_noise or {}).items()}
        self.seed = int(seed)
        out = []
        for _ in range(num):
            eid = f"{self.eid_prefix}{len(self.markets)}"
            self.markets[eid] = md
            self.forecast_hours[eid] = int(forecast_hours)  # hours; forecast_steps gives the values
            out.append({"eid": eid, "type": model})
        return out

    def step(self, time: int, inputs: dict, max_advance: int) -> int:
        self.time = int(time)
        return self.time + 1

    def get_data(self, outputs: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
        data: dict[str, dict[str, Any]] = {}
        for eid, attrs in outputs.items():
            if eid not in self.markets:
                raise ProfileError(f"MarketSim: unknown entity {eid!r}")
            md = self.markets[eid]
            now = md.at(self.time)
            fc = None
            row: dict[str, Any] = {}
            for attr in attrs:
                if attr == "hour":
                    row[attr] = self.time
                elif attr in now:
                    row[attr] = now[attr]
                elif attr in FORECAST_ATTRS:
                    fc = fc or md.window(self.time, self.forecast_steps(eid))
                    src = {"price_forecast": fc.energy_price, "load_forecast": fc.load_kw,
                           "load_scaling_forecast": fc.load_scaling}[attr]
                    row[attr] = [float(v) for v in src]
                    sigma = self.noise.get("price_sigma" if attr == "price_forecast" else "load_sigma", 0.0)
                    if sigma > 0:
                        row[attr] = noisy_forecast(row[attr], sigma, self.seed,
                                                   "price" if attr == "price_forecast" else "load", self.time,
                                                   step_h=self.clock.step_h)
                elif attr == "element_power":
                    i = self.time % md.n_steps
                    row[attr] = None if md.element_power is None else {
                        k: v[i].tolist() for k, v in md.element_power.items()}
                elif attr == "bus_load_forecast":
                    fc = fc or md.window(self.time, self.forecast_steps(eid))
                    row[attr] = None if fc.bus_p_kw is None else {"p_kw": fc.bus_p_kw.tolist(),
                                                                 "q_kvar": fc.bus_q_kvar.tolist()}
                else:
                    raise ProfileError(f"MarketSim: unknown attribute {attr!r}")
            data[eid] = row
        return data

    def forecast_steps(self, eid: str) -> int:
        """The values in entity `eid`'s forecasts: its horizon in hours times the steps in an hour."""
        return self.forecast_hours[eid] * self.clock.steps_per_hour


def main() -> None:
    """Run as a separate process: `python -m simulators.market.simulator HOST:PORT`."""
    mosaik_api_v3.start_simulation(MarketSim(), "Market price and load profile simulator")


if __name__ == "__main__":
    main()
