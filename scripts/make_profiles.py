"""Derive the CSV files shipped in scenarios/data/ (run by hand once; never at run time or in tests).

Two jobs, each run with the interpreter that has what it needs:

  seed000   (project venv) reconstruct seed 000's load curve and price (simulators.market.seed000) and
            check daily losses / VPD with pandapower on the IEEE 33-bus:
                .venv/bin/python scripts/make_profiles.py seed000
  seed000-hourly (project venv) re-fit seed 000's price under the hourly reading of eq. 6 on the shipped load
            curve (`reconstruct_price_hourly`) and write seed000_price_hourly.csv; the shipped curve and
            seed000_price.csv (the daily reading, used by the default co-simulation) are left untouched:
                .venv/bin/python scripts/make_profiles.py seed000-hourly
  seasonal  (a throw-away venv with `pip install simbench`; NOT a project dependency) build four
            representative seasonal weeks of load (simbench 1-MV-urban--0-sw, all 139 loads summed,
            per-unit of the hourly annual peak) and Netherlands day-ahead prices for 2019 (read from the
            ev2gym 2.0.0 wheel: `pip download --no-deps ev2gym -d /tmp/ev2gym`), plus the reserve-market
            columns derived by the documented assumptions below:
                /tmp/mkvenv/bin/python scripts/make_profiles.py seasonal \
                    --wheel /tmp/ev2gym/ev2gym-2.0.0-py3-none-any.whl

A representative week is the mean, for each (weekday, hour), over the season's ~13 weeks; this mirrors
seed 003's "average price of 90 days for each season". Seasons: winter Dec-Feb, spring Mar-May, summer
Jun-Aug, autumn Sep-Nov. Hour h of the week (1..168) ends at h o'clock counted from Monday 00:00.
"""

from __future__ import annotations

import argparse
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "scenarios" / "data"
SEASON_OF_MONTH = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
                   6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
SEASONS = ("winter", "spring", "summer", "autumn")
PRICE_YEAR = 2019  # a calm pre-COVID, pre-gas-crisis year
# Reserve-market assumptions (seed 003 shows its reserve prices only in a figure without numbers):
RESERVE_CAPACITY_FACTOR = 0.4  # capacity (band) price, EUR/MW per hour, as a share of the energy price
RESERVE_CALL_FACTOR = 1.2  # called-energy price as a multiple of the energy price
CALL_PROB_LOW, CALL_PROB_HIGH = 0.05, 0.10  # probability of a call: below / above the week's mean load


def seed000(out: Path) -> None:
    """Write seed000_load_kw.csv and seed000_price.csv and print the loss/VPD checks."""
    # this job runs in the project venv; the seasonal job's throw-away venv has no cosim/simulators
    import pandapower as pp  # noqa: PLC0415 - heavy, only this job needs it

    from cosim.networks.ieee33 import ieee33  # noqa: PLC0415 - project venv only
    from simulators.market import seed000 as s0  # noqa: PLC0415 - project venv only

    warnings.filterwarnings("ignore")
    load = s0.reconstruct_load_curve()
    price = s0.reconstruct_price(load)
    net = ieee33().net
    losses, vpd = [], []
    for p_kw in load:
        net.load["scaling"] = p_kw / s0.NOMINAL_LOAD_KW
        pp.runpp(net, numba=False, lightsim2grid=False)
        losses.append(float(net.res_line.pl_mw.sum()) * 1000.0)
        vpd.append(float(np.abs(net.res_bus.vm_pu - 1.0).sum()))
    facts = s0.curve_facts(load)
    print(f"facts: {facts}")
    print(f"daily losses {sum(losses):.1f} kWh (paper 1783.7), VPD {sum(vpd):.2f} p.u. (paper 23.93)")
    print(f"best case-1 OF1 with the price: {s0.best_case1_benefit(price):.2f} $ (paper 424.7)")
    with open(out / "seed000_load_kw.csv", "w") as f:
        f.write("hour,load_kw\n")
        f.writelines(f"{h},{v:.4f}\n" for h, v in enumerate(load, start=1))
    with open(out / "seed000_price.csv", "w") as f:
        f.write("hour,energy_price_usd_per_kwh\n")
        f.writelines(f"{h},{v:.6f}\n" for h, v in enumerate(price, start=1))


def seed000_hourly(out: Path) -> None:
    """Write seed000_price_hourly.csv: the price re-fitted under eq. 6's hourly reading on the shipped curve."""
    from simulators.market import seed000 as s0  # noqa: PLC0415 - project venv only

    load = pd.read_csv(DATA / "seed000_load_kw.csv")["load_kw"].to_numpy(float)
    price = s0.reconstruct_price_hourly(load)
    print(f"hourly reading: price {price.min():.4f}-{price.max():.4f} $/kWh, best case-1 OF1 "
          f"{s0.best_case1_benefit_hourly(price):.2f} $ (paper 424.7); daily-reading price peak "
          f"{s0.reconstruct_price(load).max():.4f} $/kWh")
    with open(out / "seed000_price_hourly.csv", "w") as f:
        f.write("hour,energy_price_usd_per_kwh\n")
        f.writelines(f"{h},{v:.6f}\n" for h, v in enumerate(price, start=1))


def _week_means(series, index) -> dict[str, np.ndarray]:
    """Mean per season of a time series by (weekday, hour) -> 168 values, Monday 00-01 first."""
    df = pd.DataFrame({"v": np.asarray(series, dtype=float)}, index=index)
    df["season"] = [SEASON_OF_MONTH[m] for m in df.index.month]
    df["how"] = df.index.dayofweek * 24 + df.index.hour
    out = {}
    for season in SEASONS:
        g = df[df.season == season].groupby("how")["v"].mean()
        if len(g) != 168:
            raise RuntimeError(f"{season}: only {len(g)} of 168 week hours have data")
        out[season] = g.sort_index().to_numpy()
    return out


def seasonal(out: Path, wheel: Path) -> None:
    """Write seasonal_week.csv (4 x 168 rows) and the ev2gym licence notice."""
    import simbench as sb  # noqa: PLC0415 - not a project dependency: only in the seasonal job's venv

    net = sb.get_simbench_net("1-MV-urban--0-sw")
    prof = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)[("load", "p_mw")]
    total = prof.sum(axis=1).to_numpy()  # MW, 15-min, leap year 2016
    idx = pd.date_range("2016-01-01 00:00", periods=len(total), freq="15min")
    hourly = pd.Series(total, index=idx).resample("1h").mean()
    load_pu = hourly / hourly.max()
    load_week = _week_means(load_pu.to_numpy(), load_pu.index)

    with zipfile.ZipFile(wheel) as z:
        raw = z.read("ev2gym/data/Netherlands_day-ahead-2015-2024.csv").decode()
        licence = next(z.read(n).decode() for n in z.namelist() if n.endswith("licenses/LICENSE"))
    prices = pd.read_csv(io.StringIO(raw))
    prices = prices[prices["Datetime (UTC)"].fillna("").str.startswith(str(PRICE_YEAR))]
    utc = pd.to_datetime(prices["Datetime (UTC)"], utc=True)
    local = utc.dt.tz_convert("Europe/Amsterdam").dt.tz_localize(None)
    price_week = _week_means(prices["Price (EUR/MWhe)"].to_numpy(), pd.DatetimeIndex(local))

    with open(out / "seasonal_week.csv", "w") as f:
        f.write("season,hour,load_pu,energy_price_eur_per_mwh,reserve_capacity_price_eur_per_mw_h,"
                "reserve_call_price_eur_per_mwh,call_probability\n")
        for season in SEASONS:
            lp, ep = load_week[season], price_week[season]
            prob = np.where(lp > lp.mean(), CALL_PROB_HIGH, CALL_PROB_LOW)
            for h in range(168):
                f.write(f"{season},{h + 1},{lp[h]:.5f},{ep[h]:.3f},{RESERVE_CAPACITY_FACTOR * ep[h]:.3f},"
                        f"{RESERVE_CALL_FACTOR * ep[h]:.3f},{prob[h]:.2f}\n")
    (out / "LICENSE-ev2gym.txt").write_text(
        "Netherlands day-ahead prices in seasonal_week.csv are derived from\n"
        "ev2gym/data/Netherlands_day-ahead-2015-2024.csv in the ev2gym 2.0.0 wheel (PyPI), under:\n\n" + licence)
    (out / "LICENSE-simbench.txt").write_text(
        "The load_pu column of seasonal_week.csv is derived (seasonal weekday-hour means, per-unit of the\n"
        "annual peak) from the SimBench database, grid 1-MV-urban--0-sw, shipped in the pip package simbench\n"
        "1.6.3. The database called SimBench is made available under the Open Database License:\n"
        "http://opendatacommons.org/licenses/odbl/1.0/ ; individual contents under the Database Contents\n"
        "License: http://opendatacommons.org/licenses/dbcl/1.0/. Copyright (c) 2019-2026 University of Kassel,\n"
        "TU Dortmund, RWTH Aachen University, Fraunhofer IEE Kassel and contributors.\n"
        "The derived load_pu column is likewise offered under the ODbL 1.0.\n")
    for season in SEASONS:
        print(f"{season}: load p.u. {load_week[season].min():.3f}-{load_week[season].max():.3f}, "
              f"price EUR/MWh {price_week[season].min():.1f}-{price_week[season].max():.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("job", choices=["seed000", "seed000-hourly", "seasonal"])
    ap.add_argument("--wheel", type=Path, default=Path("/tmp/ev2gym/ev2gym-2.0.0-py3-none-any.whl"))
    ap.add_argument("--out", type=Path, default=DATA)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.job == "seed000":
        seed000(args.out)
    elif args.job == "seed000-hourly":
        seed000_hourly(args.out)
    else:
        seasonal(args.out, args.wheel)


if __name__ == "__main__":
    main()
