"""Uncertainty characterisation of seed 003 (Neyestani et al., IEEE TPWRS 2015, section II.B).

* PEV scenarios: a district fleet with 24 battery classes, normal arrival times, normal stays and lognormal
  daily distance; per hour the number of parked PEVs, their aggregate SOC (kWh) and capacity (kWh). Many
  scenarios are drawn, reduced with k-means and the expected value is used, as the paper does (Fig. 2).
* Wind and PV: hourly Weibull wind speed and Beta clearness PDFs cut into class intervals, roulette-wheel
  sampling per hour, k-means reduction to three scenarios with probabilities (Fig. 3).
* Prices: the four seasonal day-ahead / reserve profiles of simulators.market (mean day of each season's
  representative week), standing in for the paper's Spanish-market seasons (Fig. 4; see the README).
The paper prints none of these numbers; every constant here is an assumption documented in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2

from cosim.errors import InputError
from simulators.market import SEASONS, load_market

HOURS = 24


class ScenarioGenerationError(InputError):
    """Bad scenario-generation input (sizes, probabilities, shapes)."""


# 24 battery classes (seed 003 cites 24 classes from its ref. [14] without listing them): 6 usable capacities
# (kWh) x 4 consumption levels (kWh/km); class share = product of the marginal shares.
CAPACITIES_KWH = np.array([16.0, 24.0, 30.0, 40.0, 60.0, 85.0])
CAPACITY_SHARE = np.array([0.10, 0.25, 0.20, 0.25, 0.12, 0.08])
CONSUMPTION_KWH_PER_KM = np.array([0.14, 0.16, 0.18, 0.21])
CONSUMPTION_SHARE = np.array([0.25, 0.35, 0.25, 0.15])


@dataclass(frozen=True)
class FleetParams:
    """District PEV population (assumed; calibrated so that peak occupancy is about 330 PEVs, see README)."""

    n_per_day: int = 350
    arrival_mean_h: float = 8.5
    arrival_std_h: float = 1.5
    stay_mean_h: float = 8.0
    stay_std_h: float = 2.0
    distance_mu: float = float(np.log(35.0))  # ln(km/day)
    distance_sigma: float = 0.55
    soc_floor: float = 0.10


@dataclass(frozen=True)
class PevScenario:
    """Hourly lot occupancy (index h = hour ending h+1): PEVs parked, aggregate SOC and capacity [kWh]."""

    n_pev: np.ndarray
    soc_kwh: np.ndarray
    cap_kwh: np.ndarray
    probability: float = 1.0


def battery_classes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(capacity kWh, consumption kWh/km, share) of the 24 classes."""
    cap = np.repeat(CAPACITIES_KWH, len(CONSUMPTION_KWH_PER_KM))
    cons = np.tile(CONSUMPTION_KWH_PER_KM, len(CAPACITIES_KWH))
    share = np.outer(CAPACITY_SHARE, CONSUMPTION_SHARE).ravel()
    return cap, cons, share / share.sum()


def occupancy(arrival_h: np.ndarray, departure_h: np.ndarray, cap_kwh: np.ndarray, soc_frac: np.ndarray) -> PevScenario:
    """Aggregate a list of visits into hourly counts: a PEV counts in hour h if parked at its midpoint h + 0.5."""
    mid = np.arange(HOURS) + 0.5
    here = (arrival_h[None, :] <= mid[:, None]) & (departure_h[None, :] > mid[:, None])
    return PevScenario(here.sum(1).astype(float), here @ (soc_frac * cap_kwh), here @ cap_kwh)


def pev_scenario(rng: np.random.Generator, p: FleetParams = FleetParams()) -> PevScenario:
    """One stochastic day of the district fleet (Poisson number of PEVs)."""
    n = int(rng.poisson(p.n_per_day))
    cap, cons, share = battery_classes()
    k = rng.choice(len(cap), size=n, p=share)
    arr = np.clip(rng.normal(p.arrival_mean_h, p.arrival_std_h, n), 0.0, 23.0)
    dep = np.clip(arr + np.maximum(rng.normal(p.stay_mean_h, p.stay_std_h, n), 1.0), 0.0, 24.0)
    dist = rng.lognormal(p.distance_mu, p.distance_sigma, n)
    soc = np.clip(1.0 - dist * cons[k] / cap[k], p.soc_floor, 1.0)
    return occupancy(arr, dep, cap[k], soc)


def reduce_scenarios(x: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k-means reduction (scipy's kmeans2, k-means++ start): cluster means and their shares as probabilities."""
    x = np.asarray(x, float)
    if x.ndim != 2 or not 1 <= k <= len(x) or not np.all(np.isfinite(x)):
        raise ScenarioGenerationError(f"k-means needs a finite 2-D array with at least k={k} rows, got shape {x.shape}")
    c, labels = kmeans2(x, k, iter=100, minit="++", missing="warn", rng=rng)
    prob = np.bincount(labels, minlength=k) / len(x)
    keep = prob > 0
    return c[keep], prob[keep] / prob[keep].sum()


def pev_scenarios(n_draw: int, k: int, seed: int,
                  p: FleetParams = FleetParams()) -> tuple[list[PevScenario], PevScenario]:
    """n_draw PEV days reduced to k scenarios with k-means; also the expected scenario used by stage 1."""
    rng = np.random.default_rng(seed)
    draws = [pev_scenario(rng, p) for _ in range(n_draw)]
    x = np.array([np.r_[d.n_pev, d.soc_kwh, d.cap_kwh] for d in draws])
    c, prob = reduce_scenarios(x, k, rng)
    red = [PevScenario(ci[:HOURS], ci[HOURS:2 * HOURS], ci[2 * HOURS:], float(pi)) for ci, pi in zip(c, prob)]
    ev = prob @ c
    return red, PevScenario(ev[:HOURS], ev[HOURS:2 * HOURS], ev[2 * HOURS:], 1.0)


# ---------------------------------------------------------------- renewables

@dataclass(frozen=True)
class RerParams:
    """Wind turbine and PV plant at bus 680 (assumed ratings and climate, see README)."""

    wind_kw: float = 600.0
    pv_kw: float = 400.0
    weibull_k: float = 2.0
    weibull_c_mps: float = 7.0  # daily mean scale; +-15 % diurnal swing, windiest at night
    v_cut_in: float = 3.0
    v_rated: float = 12.0
    v_cut_out: float = 25.0
    beta_a: float = 2.0
    beta_b: float = 1.2
    sunrise_h: float = 6.0
    sunset_h: float = 20.0


def roulette_wheel(edges: np.ndarray, cdf, n: int, rng: np.random.Generator) -> np.ndarray:
    """Roulette-wheel mechanism: class probabilities from the CDF at the edges, draw n classes, return midpoints."""
    prob = np.diff(cdf(edges))
    prob = np.clip(prob, 0.0, None)
    if prob.sum() <= 0:
        raise ScenarioGenerationError("roulette_wheel: the classes carry no probability")
    wheel = np.cumsum(prob / prob.sum())
    cls = np.searchsorted(wheel, rng.random(n), side="right")
    cls = np.minimum(cls, len(prob) - 1)
    return 0.5 * (edges[cls] + edges[cls + 1])


def wind_power_pu(v: np.ndarray, p: RerParams = RerParams()) -> np.ndarray:
    """Turbine power curve [p.u. of rating]: cubic between cut-in and rated, 1 up to cut-out, 0 elsewhere."""
    v = np.asarray(v, float)
    ramp = (v**3 - p.v_cut_in**3) / (p.v_rated**3 - p.v_cut_in**3)
    return np.where(v < p.v_cut_in, 0.0, np.where(v < p.v_rated, ramp, np.where(v <= p.v_cut_out, 1.0, 0.0)))


def pv_envelope(p: RerParams = RerParams()) -> np.ndarray:
    """Clear-sky shape [0..1] per hour (half sine between sunrise and sunset, at the hour's midpoint)."""
    t = np.arange(HOURS) + 0.5
    day = (t > p.sunrise_h) & (t < p.sunset_h)
    return np.where(day, np.sin(np.pi * (t - p.sunrise_h) / (p.sunset_h - p.sunrise_h)), 0.0)


def rer_scenarios(n_draw: int, k: int, seed: int,
                  p: RerParams = RerParams()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wind_kw (k, 24), pv_kw (k, 24), probability (k,)): RWM draws per hour reduced with k-means."""
    from scipy.stats import beta, weibull_min  # noqa: PLC0415 - only the renewables need it

    rng = np.random.default_rng(seed + 7919)
    t = np.arange(HOURS) + 0.5
    scale = p.weibull_c_mps * (1.0 + 0.15 * np.cos(2 * np.pi * (t - 3.0) / HOURS))
    v_edges = np.arange(0.0, 30.01, 1.0)
    s_edges = np.linspace(0.0, 1.0, 21)
    wind = np.empty((n_draw, HOURS))
    clear = np.empty((n_draw, HOURS))
    for h in range(HOURS):
        wind[:, h] = roulette_wheel(v_edges, lambda e: weibull_min.cdf(e, p.weibull_k, scale=scale[h]), n_draw, rng)
        clear[:, h] = roulette_wheel(s_edges, lambda e: beta.cdf(e, p.beta_a, p.beta_b), n_draw, rng)
    w_kw = wind_power_pu(wind, p) * p.wind_kw
    pv_kw = clear * pv_envelope(p)[None] * p.pv_kw
    c, prob = reduce_scenarios(np.c_[w_kw, pv_kw], k, rng)
    return c[:, :HOURS], c[:, HOURS:], prob


# ---------------------------------------------------------------- prices

@dataclass(frozen=True)
class PriceScenario:
    """One season's mean day [$/kWh, $/kW per h, probability]; hour index 0 = hour ending 01:00."""

    season: str
    energy: np.ndarray
    reserve_cap: np.ndarray
    reserve_call: np.ndarray
    call_prob: np.ndarray
    load_pu: np.ndarray


def price_scenarios() -> list[PriceScenario]:
    """The four seasonal price scenarios (each the mean over its representative week's seven days)."""
    out = []
    for s in SEASONS:
        md = load_market(f"seasonal:{s}")
        if md.n_hours % HOURS:
            raise ScenarioGenerationError(f"seasonal:{s} has {md.n_hours} hours, not a whole number of days")

        def day(a):
            return np.asarray(a, float).reshape(-1, HOURS).mean(0)

        out.append(PriceScenario(s, day(md.energy_price), day(md.reserve_capacity_price), day(md.reserve_call_price),
                                 day(md.call_probability), day(md.load_scaling)))
    return out
