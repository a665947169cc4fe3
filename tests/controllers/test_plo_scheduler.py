"""The PLO's own profit-maximising schedule (`plo_profit_schedule`) and the DSO's signal (`DsoSignal`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import csc_array

from cosim.controllers.base import HOURS, LotEconomics, LotOffer
from cosim.controllers.highs_lp import solve_lp
from cosim.controllers.plo_scheduler import DsoSignal, ScheduleError, plo_profit_schedule, profit_lp

TOL = 1e-6
PRICE = np.array([0.06] * 7 + [0.09, 0.11, 0.12] + [0.14] * 9 + [0.12, 0.10, 0.08, 0.07, 0.06])
MODE = np.array([1] * 8 + [0, 0] + [-1] * 9 + [0] + [1] * 4)


def make_offer(mode=MODE, c_max=100.0, d_max=80.0, need=200.0, available=150.0, need_by=None, mu=0.9,
               cost_e=0.01) -> LotOffer:
    return LotOffer(lot_id="lot1", candidate_buses=(18,), n_pev=20, pev_power_kw=10.0, pev_battery_kwh=40.0,
                    hour_mode=np.asarray(mode, int),
                    max_charge_kw=np.broadcast_to(np.asarray(c_max, float), (HOURS,)).copy(),
                    max_discharge_kw=np.broadcast_to(np.asarray(d_max, float), (HOURS,)).copy(),
                    economics=LotEconomics(mu_e=mu, cost_e_usd_per_kwh=cost_e), energy_need_kwh=float(need),
                    energy_available_kwh=float(available),
                    need_by_hour_kwh=None if need_by is None else np.asarray(need_by, float))


def split(schedule: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(schedule, 0.0), np.maximum(-schedule, 0.0)


def assert_schedule_valid(schedule: np.ndarray, offer: LotOffer, signal: DsoSignal | None = None) -> None:
    """Every constraint the LP promises, checked on its answer."""
    signal = signal or DsoSignal.neutral()
    assert schedule.shape == (HOURS,) and np.all(np.isfinite(schedule))
    c, d = split(schedule)
    mode = np.asarray(offer.hour_mode)
    scale = TOL * max(1.0, float(np.max(offer.max_charge_kw)), float(np.max(offer.max_discharge_kw)))
    assert np.all(c[mode <= 0] <= scale), "charging outside charge hours"
    assert np.all(d[mode >= 0] <= scale), "discharging outside discharge hours"
    assert np.all(c <= np.minimum(offer.max_charge_kw, signal.max_import_kw) + scale)
    assert np.all(d <= np.minimum(offer.max_discharge_kw, signal.max_export_kw) + scale)
    battery = np.cumsum(c) * offer.economics.mu_e
    need_by = np.zeros(HOURS) if offer.need_by_hour_kwh is None else np.asarray(offer.need_by_hour_kwh, float)
    assert np.all(battery >= need_by - 1e-6 * max(1.0, need_by.max()) - scale)
    assert battery[-1] >= offer.energy_need_kwh * (1 - 1e-9) - scale
    if np.isfinite(offer.energy_available_kwh):
        assert d.sum() <= offer.energy_available_kwh + scale * HOURS


# -- examples ---------------------------------------------------------------------------------------------------

def test_schedule_respects_modes_bounds_and_energies():
    offer = make_offer()
    schedule, profit = plo_profit_schedule(offer, PRICE)
    assert_schedule_valid(schedule, offer)
    c, d = split(schedule)
    # the need is met exactly (charging costs more than nothing) and discharging is worth it at 0.14 $/kWh
    assert c.sum() * 0.9 == pytest.approx(200.0, rel=1e-6)
    assert d.sum() == pytest.approx(150.0, rel=1e-6)
    assert np.isfinite(profit)


def test_cheapest_hours_are_charged_first():
    offer = make_offer(need=90.0, available=0.0)  # 100 kWh grid-side: one cheap hour is enough
    schedule, _ = plo_profit_schedule(offer, PRICE)
    c, _ = split(schedule)
    assert c.sum() == pytest.approx(100.0, rel=1e-6)
    assert np.all(c[PRICE > 0.06] <= TOL)  # only the 0.06 $/kWh hours carry charging


def test_need_by_hour_is_met_cumulatively():
    need_by = np.zeros(HOURS)
    need_by[2:] = 180.0  # 200 kWh grid-side by the end of hour index 2: hours 0..2 at up to 100 kW
    offer = make_offer(need=180.0, available=0.0, need_by=need_by)
    schedule, _ = plo_profit_schedule(offer, PRICE)
    assert_schedule_valid(schedule, offer)
    assert np.cumsum(split(schedule)[0])[2] * 0.9 >= 180.0 - 1e-6


def test_energy_need_counts_with_charging_efficiency():
    for mu in (1.0, 0.8):
        offer = make_offer(need=160.0, available=0.0, mu=mu)
        c, _ = split(plo_profit_schedule(offer, PRICE)[0])
        assert c.sum() == pytest.approx(160.0 / mu, rel=1e-6)


def test_discharge_is_capped_by_available_energy():
    offer = make_offer(need=0.0, available=50.0, d_max=80.0)
    _, d = split(plo_profit_schedule(offer, PRICE)[0])
    assert d.sum() == pytest.approx(50.0, rel=1e-6)
    assert np.all(d[MODE >= 0] <= TOL)


def test_infinite_available_energy_is_bounded_by_hourly_limits():
    offer = make_offer(need=0.0, available=np.inf, d_max=80.0)
    _, d = split(plo_profit_schedule(offer, PRICE)[0])
    assert d.sum() == pytest.approx(80.0 * np.sum(MODE < 0), rel=1e-6)


def test_signal_limits_and_adder_are_obeyed():
    offer = make_offer(need=200.0, available=100.0)
    max_import = np.full(HOURS, 60.0)
    max_export = np.full(HOURS, 10.0)
    adder = np.zeros(HOURS)
    adder[:7] = 0.5  # the night became expensive: charging moves to the evening hours
    signal = DsoSignal(adder, max_import, max_export)
    schedule, _ = plo_profit_schedule(offer, PRICE, signal)
    assert_schedule_valid(schedule, offer, signal)
    c, d = split(schedule)
    assert np.all(c <= 60.0 + TOL) and np.all(d <= 10.0 + TOL)
    assert np.all(c[:7] <= TOL)
    assert c.sum() * 0.9 == pytest.approx(200.0, rel=1e-6)


def test_impossible_need_raises_schedule_error():
    charge_hours = int(np.sum(MODE > 0))
    offer = make_offer(c_max=100.0, need=0.9 * 100.0 * charge_hours + 1.0)
    with pytest.raises(ScheduleError, match="lot1"):
        plo_profit_schedule(offer, PRICE)


def test_impossible_need_by_hour_raises_schedule_error():
    need_by = np.zeros(HOURS)
    need_by[0] = 91.0  # more than one hour at 100 kW with mu 0.9 delivers
    with pytest.raises(ScheduleError):
        plo_profit_schedule(make_offer(need=0.0, need_by=need_by), PRICE)


def test_signal_limits_can_make_the_need_impossible():
    offer = make_offer(need=100.0)
    signal = DsoSignal(np.zeros(HOURS), np.zeros(HOURS), np.full(HOURS, np.inf))
    with pytest.raises(ScheduleError):
        plo_profit_schedule(offer, PRICE, signal)


def test_higher_adder_in_an_hour_does_not_increase_charging_there():
    offer = make_offer(need=300.0, available=0.0)
    base, _ = plo_profit_schedule(offer, PRICE)
    hour = int(np.argmax(split(base)[0]))
    adder = np.zeros(HOURS)
    adder[hour] = 0.05
    moved, _ = plo_profit_schedule(offer, PRICE, DsoSignal(adder, np.full(HOURS, np.inf), np.full(HOURS, np.inf)))
    assert moved[hour] < base[hour] - 1.0  # charging left the now dearer hour ...
    assert split(moved)[0].sum() == pytest.approx(split(base)[0].sum(), rel=1e-6)  # ... but the need is still met


def test_schedule_does_not_modify_the_offer():
    need_by = np.zeros(HOURS)
    offer = make_offer(need=50.0, need_by=need_by)
    plo_profit_schedule(offer, PRICE)
    assert offer.need_by_hour_kwh[-1] == 0.0


# -- properties -------------------------------------------------------------------------------------------------

@st.composite
def offers(draw):
    """Random feasible offers: modes, hourly bounds, a need_by curve some partial charging reaches, prices."""
    mode = np.array(draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=HOURS, max_size=HOURS)))
    c_max = np.array(draw(st.lists(st.floats(0.0, 300.0), min_size=HOURS, max_size=HOURS)))
    d_max = np.array(draw(st.lists(st.floats(0.0, 300.0), min_size=HOURS, max_size=HOURS)))
    mu = draw(st.floats(0.7, 1.0))
    reach = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=HOURS, max_size=HOURS)))
    reachable = mu * np.cumsum(np.where(mode > 0, c_max, 0.0) * reach)  # a schedule c = c_max * reach meets it
    need_by = reachable if draw(st.booleans()) else None
    need = draw(st.floats(0.0, 1.0)) * float(reachable[-1])
    available = draw(st.one_of(st.just(np.inf), st.floats(0.0, 3000.0)))
    price = np.array(draw(st.lists(st.floats(0.01, 0.5), min_size=HOURS, max_size=HOURS)))
    offer = make_offer(mode=mode, c_max=c_max, d_max=d_max, need=need, available=available, need_by=need_by, mu=mu,
                       cost_e=draw(st.floats(0.0, 0.2)))
    return offer, price


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers())
def test_property_schedule_is_valid(case):
    offer, price = case
    schedule, profit = plo_profit_schedule(offer, price)
    assert_schedule_valid(schedule, offer)
    c, d = split(schedule)
    cost_e = offer.economics.cost_e_usd_per_kwh
    expected = float(np.sum(price * d - (price / offer.economics.mu_e + cost_e) * c - cost_e * d))
    assert profit == pytest.approx(expected, rel=1e-6, abs=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers(), st.lists(st.floats(-0.1, 0.1), min_size=HOURS, max_size=HOURS))
def test_property_the_profit_lp_gets_linprogs_own_answer(case, adder):
    """`plo_profit_schedule` hands HiGHS its LP as `linprog(method="highs")` does (`solve_lp(as_linprog=True)`,
    without linprog's per-call option checks): the same solution, bit for bit, and the same verdict."""
    offer, price = case
    inf = np.full(HOURS, np.inf)
    lp = profit_lp(offer, price, DsoSignal(np.asarray(adder), inf, inf))
    theirs = linprog(lp.cost, A_ub=lp.a_ub, b_ub=lp.b_ub, bounds=list(zip(lp.lower, lp.upper)), method="highs")
    ours = solve_lp(lp.cost, lp.lower, lp.upper, csc_array(lp.a_ub), np.full(lp.b_ub.size, -np.inf), lp.b_ub,
                    as_linprog=True)
    assert (ours.status == 0) == (theirs.status == 0)
    if theirs.status == 0:
        assert np.array_equal(ours.x, theirs.x) and ours.fun == theirs.fun


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers(), st.integers(0, HOURS - 1), st.floats(0.001, 1.0),
       st.lists(st.floats(-0.1, 0.1), min_size=HOURS, max_size=HOURS))
@pytest.mark.slow
def test_property_higher_adder_never_increases_charging_in_that_hour(case, hour, extra, base_adder):
    offer, price = case
    adder = np.asarray(base_adder, float)
    raised = adder.copy()
    raised[hour] += extra
    inf = np.full(HOURS, np.inf)
    before, _ = plo_profit_schedule(offer, price, DsoSignal(adder, inf, inf))
    after, _ = plo_profit_schedule(offer, price, DsoSignal(raised, inf, inf))
    assert_schedule_valid(after, offer)
    # net import in that hour can only fall (charging falls, or discharging rises)
    assert after[hour] <= before[hour] + 1e-6 * max(1.0, float(offer.max_charge_kw[hour]))
    assert split(after)[0][hour] <= split(before)[0][hour] + 1e-6 * max(1.0, float(offer.max_charge_kw[hour]))


# -- DsoSignal --------------------------------------------------------------------------------------------------

def test_neutral_signal_changes_nothing():
    offer = make_offer()
    plain, profit = plo_profit_schedule(offer, PRICE)
    neutral, profit_neutral = plo_profit_schedule(offer, PRICE, DsoSignal.neutral())
    np.testing.assert_allclose(neutral, plain, atol=1e-9)
    assert profit_neutral == pytest.approx(profit)
    signal = DsoSignal.neutral()
    assert signal.price_adder_usd_per_kwh.shape == (HOURS,) and not signal.price_adder_usd_per_kwh.any()
    assert np.all(np.isinf(signal.max_import_kw)) and np.all(np.isinf(signal.max_export_kw))


def test_signal_payload_round_trip():
    adder = np.linspace(-0.05, 0.05, HOURS)
    max_import = np.full(HOURS, np.inf)
    max_import[3] = 12.5
    max_export = np.arange(HOURS, dtype=float)
    signal = DsoSignal(adder, max_import, max_export)
    payload = signal.to_payload()
    assert set(payload) == {"price_adder_usd_per_kwh", "max_import_kw", "max_export_kw"}
    for values in payload.values():  # plain JSON-able numbers, no inf
        assert isinstance(values, list) and len(values) == HOURS
        assert all(isinstance(v, float) and np.isfinite(v) for v in values)
    assert payload["max_import_kw"][0] == 1e9 and payload["max_import_kw"][3] == 12.5
    back = DsoSignal.from_payload(payload)
    np.testing.assert_array_equal(back.price_adder_usd_per_kwh, adder)
    np.testing.assert_array_equal(back.max_export_kw, max_export)
    assert back.max_import_kw[3] == 12.5
    assert np.all(back.max_import_kw[np.isinf(max_import)] >= 1e9)
    # the capped limit acts like no limit at all
    offer = make_offer()
    np.testing.assert_allclose(plo_profit_schedule(offer, PRICE, back)[0],
                               plo_profit_schedule(offer, PRICE, signal)[0], atol=1e-6)


def test_signal_payload_survives_json():
    signal = DsoSignal(np.full(HOURS, 0.01), np.full(HOURS, np.inf), np.full(HOURS, 5.0))
    back = DsoSignal.from_payload(json.loads(json.dumps(signal.to_payload())))
    np.testing.assert_array_equal(back.price_adder_usd_per_kwh, signal.price_adder_usd_per_kwh)
    assert np.all(back.max_import_kw >= 1e9)
    np.testing.assert_array_equal(back.max_export_kw, signal.max_export_kw)
