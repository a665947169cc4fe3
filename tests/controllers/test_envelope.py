"""The flexibility envelope: per-EV bounds summed (hand-checked numbers), the queue, contracts no charger can reach,
projection, payloads; property tests on random fleets; and the lot delivering the envelope's extreme schedules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers.envelope import FlexEnvelope, envelope_of, fleet_envelope, plugged_windows
from cosim.controllers.fleet_lp import deliverable, max_schedule_kwh
from cosim.controllers.read_only import _frozen_copy
from cosim.errors import ProblemError
from cosim.exchange.payloads import LotRegistration, PayloadError, check_envelope
from simulators.parking.ev import EV
from simulators.parking.fleet import stochastic_fleet
from simulators.parking.forecast import fleet_forecast
from simulators.parking.lot import ParkingLot
from simulators.parking.presets import preset_fleet


def one_ev(**kw) -> dict:
    base = dict(start_min=0, hours=6, plug_min=np.array([0]), dep_min=np.array([240]), energy_kwh=np.array([10.0]),
                capacity_kwh=np.array([40.0]), charger_kw=np.array([10.0]), contract_kwh=np.array([30.0]),
                floor_kwh=np.array([0.0]), v2g=np.array([False]), eta_charge=np.array([1.0]),
                eta_discharge=np.array([1.0]))
    base.update(kw)
    return base


def test_one_ev_charging_as_late_and_as_early_as_it_can():
    env = fleet_envelope(**one_ev())
    # needs 20 kWh by 4 h at 10 kW: nothing is due before hour 2, then 10 kWh per hour (as late as possible)
    np.testing.assert_allclose(env.e_min_kwh, [0, 0, 10, 20, 20, 20])
    # as early as possible it fills its 30 kWh of room in 3 h
    np.testing.assert_allclose(env.e_max_kwh, [10, 20, 30, 30, 30, 30])
    np.testing.assert_allclose(env.p_max_kw, [10, 10, 10, 10, 0, 0])
    np.testing.assert_allclose(env.p_min_kw, 0.0)
    assert env.shortfall_kwh == 0.0
    # after it has left, nothing more can go in: the suffix bounds say so
    assert env.gain_max_kwh[3] == 0.0 and env.gain_max_kwh[0] == 30.0


def test_an_ev_staying_past_the_window_may_fill_up_and_v2g_may_give_back_to_its_reserve():
    env = fleet_envelope(**one_ev(dep_min=np.array([600]), v2g=np.array([True]), floor_kwh=np.array([4.0])))
    np.testing.assert_allclose(env.e_max_kwh, [10, 20, 30, 30, 30, 30])  # room up to 40 kWh
    assert env.e_min_kwh[0] == pytest.approx(-6.0)  # down to its 4 kWh reserve in the first hour
    # 20 kWh are due at 10 h; 6 h of the 10 lie after the window: at least 30 - 40 < 0, nothing is due in it
    assert env.e_min_kwh[-1] == pytest.approx(-6.0)


def test_a_contract_no_charger_can_reach_is_clipped_and_reported():
    env = fleet_envelope(**one_ev(contract_kwh=np.array([60.0]), capacity_kwh=np.array([80.0])))
    assert env.shortfall_kwh == pytest.approx(10.0)  # 4 h at 10 kW from 10 kWh reach 50 kWh, not 60
    assert env.e_min_kwh[3] == pytest.approx(40.0)


def test_the_queue_plugs_waiting_evs_in_arrival_order_as_chargers_free():
    arr = np.array([0, 10, 20, 30])
    dep = np.array([60, 200, 50, 300])
    plug, _ = plugged_windows(arr, dep, n_chargers=2)
    # EV 2 waits for a charger: EV 0 leaves at 60 but EV 2 left at 50, so EV 3 plugs at 60
    assert plug.tolist() == [0, 10, 50, 60]
    refused, _ = plugged_windows(arr, dep, n_chargers=2, refuse=True)
    assert refused.tolist() == [0, 10, 50, 300]  # turned away: never plugged


def test_fewer_chargers_than_evs_the_shortfall_is_what_the_lot_really_misses():
    """With 20 chargers for 100 EVs a night, the envelope's unreachable contracts are exactly the energy the real lot
    (minute by minute, must-run charging at full power) leaves unmet."""
    make = lambda: ParkingLot(preset_fleet("seed000", seed=0), n_chargers=20, connection_limit_kw=1000.0)  # noqa: E731
    env = envelope_of(fleet_forecast(make(), 0.0))
    lot = make()
    for h in range(24):
        lot.advance(0.0, h + 1.0)  # idle setpoint: the lot only charges what its contracts force
    assert env.shortfall_kwh == pytest.approx(float(lot.unmet_kwh[lot.dep_min <= 24 * 60].sum()), abs=1e-6)
    assert env.shortfall_kwh == pytest.approx(603.0, abs=1.0)  # the 603 kWh, now known day-ahead


def test_project_keeps_schedules_inside_and_moves_others_in():
    env = envelope_of(fleet_forecast(ParkingLot(preset_fleet("seed000", seed=0), n_chargers=100,
                                                connection_limit_kw=1000.0), 0.0))
    inside = env.project(np.zeros(24))
    assert float(env.violation_kwh(inside)) <= 1e-6
    np.testing.assert_allclose(env.project(inside), inside)
    greedy = env.project(np.full(24, 1e4))
    assert float(env.violation_kwh(greedy)) <= 1e-6
    assert float(env.energy_kwh(greedy)[7]) == pytest.approx(750.0)  # every overnight EV full by 08:00


def test_envelope_checks_its_own_fields():
    with pytest.raises(ProblemError, match="p_min_kw above p_max_kw"):
        FlexEnvelope(np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(ProblemError, match="e_min_kwh above e_max_kwh"):
        FlexEnvelope(np.zeros(3), np.ones(3), np.ones(3), np.zeros(3))
    with pytest.raises(ProblemError, match="eta_charge"):
        FlexEnvelope(np.zeros(3), np.ones(3), np.zeros(3), np.ones(3), eta_charge=1.5)


def test_an_envelope_that_cannot_hold_drops_its_contracts_not_its_power_bounds():
    impossible = FlexEnvelope(np.zeros(24), np.zeros(24), np.full(24, 20000.0), np.full(24, 20000.0))
    tight = impossible.tightened()
    assert np.all(tight.e_max_kwh == 0.0) and tight.shortfall_kwh == pytest.approx(20000.0)


@pytest.mark.parametrize("field, value, match", [
    ("e_min_kwh", [5.0] * 24, "e_min_kwh above e_max_kwh"),
    ("p_max_kw", [-1.0] * 24, "p_min_kw above p_max_kw"),
    ("p_max_kw", [5000.0] * 24, "beyond the registered"),
    ("eta_charge", 0.0, "outside"),
    ("gain_max_kwh", [1.0] * 24, "come together"),
])
def test_an_offered_envelope_is_checked_field_by_field(field, value, match):
    payload = FlexEnvelope(np.zeros(24), np.full(24, 10.0), np.zeros(24), np.zeros(24)).to_payload()
    payload[field] = value
    with pytest.raises(PayloadError, match=match):
        check_envelope(payload, "PL1", LotRegistration((2,), 1000.0).connection_limit_kw)


def test_payload_round_trip():
    env = envelope_of(fleet_forecast(ParkingLot(stochastic_fleet(40, seed=2, days=2)), 0.0))
    again = FlexEnvelope.from_payload(env.to_payload())
    for name in ("p_min_kw", "p_max_kw", "e_min_kwh", "e_max_kwh", "gain_max_kwh", "drop_max_kwh"):
        np.testing.assert_array_equal(getattr(again, name), getattr(env, name))


# -- properties on random fleets --------------------------------------------------------------------------------

@st.composite
def fleets(draw, v2g: bool = True):
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 10_000))
    chargers = draw(st.one_of(st.none(), st.integers(1, n)))
    rng = np.random.default_rng(seed)
    evs = []
    for i in range(n):
        arr = float(rng.integers(0, 20 * 60)) / 60
        dep = arr + float(rng.integers(30, 14 * 60)) / 60
        cap = float(rng.choice([24.0, 40.0, 60.0]))
        soc = float(rng.uniform(0.05, 0.9))
        evs.append(EV(f"ev{i}", arr, dep, cap, float(rng.choice([3.7, 7.4, 11.0, 22.0])), soc,
                      float(rng.uniform(0.0, 1.0)), bool(v2g and rng.random() < 0.5), float(rng.uniform(0, 0.3)),
                      0.95, 0.95))
    return lambda: ParkingLot(evs, n_chargers=chargers, connection_limit_kw=float(draw(st.sampled_from([50.0, 1e4]))))


@settings(max_examples=25, deadline=None)
@given(fleets(), st.lists(st.floats(-500, 500), min_size=24, max_size=24))
@pytest.mark.slow
def test_projection_always_lands_inside(make, schedule):
    env = envelope_of(fleet_forecast(make(), 0.0))
    projected = env.project(np.array(schedule))
    assert float(env.violation_kwh(projected)) <= 1e-6
    np.testing.assert_allclose(env.project(projected), projected, atol=1e-9)  # idempotent


@settings(max_examples=20, deadline=None)
@given(fleets())
@pytest.mark.slow
def test_the_envelope_holds_what_each_ev_can_do_hour_by_hour(make):
    """Each hour's bounds and each hour end's energy bounds are sums of per-EV extremes: never beyond the per-EV
    LP (an EV leaving inside the window is allowed its contract, not more, so they may be smaller)."""
    fleet = fleet_forecast(make(), 0.0)
    env = envelope_of(fleet)
    for h in (0, 7, 15, 23):
        w = np.zeros(24)
        w[h] = 1.0
        assert env.p_max_kw[h] <= max_schedule_kwh(fleet, w) + 1e-6
        assert -env.p_min_kw[h] <= max_schedule_kwh(fleet, -w) + 1e-6


def _delivers(make, share_of_earliest: float) -> None:
    fleet = fleet_forecast(make(), 0.0)
    env = envelope_of(fleet)
    path = share_of_earliest * env.e_max_kwh + (1.0 - share_of_earliest) * env.e_min_kwh
    battery = np.diff(np.concatenate([[0.0], path]))
    schedule = env.project(np.where(battery >= 0, battery / env.eta_charge, battery * env.eta_discharge))
    assert deliverable(fleet, schedule) <= 1.0  # the per-EV LP, at hour resolution
    lot = make()
    lot.set_schedule(0.0, schedule)  # as the PLO hands the lot its day
    delivered = np.array([lot.advance(float(schedule[h]), h + 1.0)["p_kw"] for h in range(24)])
    assert float(np.abs(delivered - schedule).sum()) <= 1.0
    left = lot.dep_min <= 24 * 60
    assert float(lot.unmet_kwh[left].sum()) <= env.shortfall_kwh + 1.0


@settings(max_examples=25, deadline=None)
@given(fleets(v2g=False), st.sampled_from([0.0, 0.3, 0.7, 1.0]))
@pytest.mark.slow
def test_the_lot_delivers_the_envelopes_earliest_and_latest_schedules(make, share_of_earliest):
    """The schedule that charges as early as the envelope allows (its e_max path), the one that charges as late as
    the contracts allow (its e_min path) and mixtures of the two are delivered by the real lot within 1 kWh, and
    keep every reachable contract."""
    _delivers(make, share_of_earliest)


@settings(max_examples=15, deadline=None)
@given(fleets(v2g=True), st.sampled_from([0.3, 0.7, 1.0]))
@pytest.mark.slow
def test_with_v2g_the_lot_delivers_the_earliest_schedule_and_mixtures(make, share_of_earliest):
    """With V2G, the latest path alone (every EV discharged first, then charged as late as allowed) nets EVs
    charging and discharging in one hour, which one lot power cannot express exactly (round-trip losses, a few
    kWh: docs/VALIDATION.md section 9); the earliest path and mixtures are delivered within 1 kWh."""
    _delivers(make, share_of_earliest)


@settings(max_examples=25, deadline=None)
@given(fleets(), st.integers(0, 10_000), st.sampled_from([1, 3, 30]))
def test_the_compiled_forward_pass_is_the_numpy_pass_bit_for_bit(make, seed, rows):
    env = envelope_of(fleet_forecast(make(), 0.0))
    rng = np.random.default_rng(seed)
    p = rng.normal(0.0, 200.0, (rows, env.hours))
    p[:, rng.integers(0, env.hours)] = 0.0  # exact zeros and signed zeros: the bound a tie picks must agree
    p[0, -1] = -0.0
    lo, hi = env.e_min_kwh, env.e_max_kwh
    per_row_lo = lo - rng.uniform(0.0, 5.0, (rows, env.hours))
    for args in ((p, lo, hi), (p, per_row_lo, np.broadcast_to(hi, p.shape)), (p[0], lo, hi)):
        fast, ref = env._project_within(*args), env._project_within_numpy(*args)
        assert fast.shape == ref.shape and fast.tobytes() == ref.tobytes()


def _drawn_schedules(env: FlexEnvelope, seed: int, rows: int, scale_kw: float) -> np.ndarray:
    """(rows, H) schedules around the envelope: random ones, rows already inside (projected: violations at and
    near 0, the ties a maximum picks among), exact and signed zeros, and schedules exactly on a power bound."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0.0, scale_kw, (rows, env.hours))
    p[: rows // 2] = env._project_numpy(p[: rows // 2])
    p[:, rng.integers(0, env.hours)] = 0.0
    p[-1, -1] = -0.0
    p[-1, 0] = env.p_max_kw[0]
    return p


@settings(max_examples=25, deadline=None)
@given(fleets(), st.integers(0, 10_000), st.sampled_from([1, 3, 30]), st.sampled_from([1.0, 50.0, 500.0]),
       st.booleans())
def test_the_compiled_violation_and_projection_are_the_numpy_ones_bit_for_bit(make, seed, rows, scale_kw, suffix):
    """`violation_kwh` (envelope_pass.violation: numpy's pairwise sum and maxima) and `project`
    (envelope_pass.project_pass, then the suffix step) give the numpy code's bytes, with and without suffix
    bounds, for one schedule, a population and a (2, rows, H) stack."""
    env = envelope_of(fleet_forecast(make(), 0.0))
    if not suffix:
        env = FlexEnvelope(env.p_min_kw, env.p_max_kw, env.e_min_kwh, env.e_max_kwh, env.eta_charge,
                           env.eta_discharge).tightened()
    p = _drawn_schedules(env, seed, rows, scale_kw)
    for q in (p, p[0], np.stack([p, p[::-1]])):
        fast, ref = env.violation_kwh(q), env._violation_kwh_numpy(q)
        assert np.shape(fast) == np.shape(ref) and np.asarray(fast).tobytes() == np.asarray(ref).tobytes()
        fast, ref = env.project(q), env._project_numpy(q)
        assert fast.shape == ref.shape and fast.tobytes() == ref.tobytes()


def test_the_compiled_violation_sums_like_numpy_beyond_one_pairwise_block():
    """Windows longer than numpy's 128-value block: the pairwise halves (walked without recursion) agree too."""
    rng = np.random.default_rng(7)
    for hours in (7, 8, 24, 128, 129, 300, 1000):
        p_max = rng.uniform(0.0, 1.0, hours)
        env = FlexEnvelope(-p_max, p_max, np.full(hours, -1e9), np.full(hours, 1e9))
        p = rng.normal(0.0, 1.0, (4, hours)) * 10.0 ** rng.integers(-6, 6, (4, hours))
        assert env.violation_kwh(p).tobytes() == env._violation_kwh_numpy(p).tobytes()


@settings(max_examples=25, deadline=None)
@given(fleets(), st.integers(0, 10_000))
def test_tightening_one_set_of_bounds_is_the_numpy_pass_bit_for_bit(make, seed):
    """`_tighten` on (H,) bounds runs in Python floats; it gives the bytes of the numpy pass (the (1, H) path),
    ties and signed zeros included, and `tightened` thus the same envelope."""
    env = envelope_of(fleet_forecast(make(), 0.0))
    rng = np.random.default_rng(seed)
    cases = [(env.e_min_kwh, env.e_max_kwh)]
    lo = env.e_min_kwh - rng.uniform(0.0, 5.0, env.hours)
    hi = env.e_max_kwh + rng.uniform(-5.0, 5.0, env.hours)
    lo[rng.integers(0, env.hours)], hi[rng.integers(0, env.hours)] = -0.0, 0.0
    cases.append((lo, hi))
    cases.append((np.zeros(env.hours), np.full(env.hours, -0.0)))  # every comparison a tie of signed zeros
    cases.append((np.full(env.hours, -0.0), np.zeros(env.hours)))
    for lo, hi in cases:
        one = env._tighten(lo, hi)
        batched = env._tighten(lo[None, :], hi[None, :])
        for a, b in zip(one, batched):
            assert np.asarray(a).tobytes() == np.asarray(b)[0].tobytes()


@settings(max_examples=15, deadline=None)
@given(fleets(), st.booleans())
def test_a_tightened_envelope_is_the_one_its_own_checks_build(make, suffix):
    """`tightened` builds its result without re-running the envelope's checks; the checks pass on it and rebuild it
    bit for bit (`dataclasses.replace`), and it shares no array with the envelope it came from."""
    env = envelope_of(fleet_forecast(make(), 0.0))
    if not suffix:
        env = dataclasses.replace(env, gain_max_kwh=None, drop_max_kwh=None)
    tight = env.tightened()
    rebuilt = dataclasses.replace(tight)
    for f in dataclasses.fields(FlexEnvelope):
        a, b = getattr(tight, f.name), getattr(rebuilt, f.name)
        if isinstance(a, np.ndarray):
            assert a.tobytes() == b.tobytes() and not a.flags.writeable
            assert not any(np.shares_memory(a, x) for x in vars(env).values() if isinstance(x, np.ndarray))
        else:
            assert a == b and type(a) is type(b)


@settings(max_examples=15, deadline=None)
@given(fleets())
def test_an_envelope_keeps_its_tightened_envelope_and_it_is_the_computed_one(make):
    """`tightened` is kept on the (immutable) envelope: asked again, the same object, equal field by field to a fresh
    computation (`_tightened`); envelopes derived from it (`tightened`'s own, `replace`) do not inherit what it kept,
    and a frozen copy handed to a controller answers the same."""
    env = dataclasses.replace(envelope_of(fleet_forecast(make(), 0.0)))  # a fresh envelope, nothing kept yet
    first = env.tightened()
    assert env.tightened() is first
    fresh = env._tightened()
    for f in dataclasses.fields(FlexEnvelope):
        a, b = getattr(first, f.name), getattr(fresh, f.name)
        assert a.tobytes() == b.tobytes() if isinstance(a, np.ndarray) else a == b
    assert first is not env and first.tightened() is not first  # its own answer is computed for it, then kept
    assert "_tightened_envelope" not in vars(dataclasses.replace(env))
    copy = _frozen_copy(env, {})  # as `read_only_problem` copies a problem's envelopes
    assert copy.tightened().to_payload() == first.to_payload()
