"""The chargers' Q(V) droop (`simulators.parking.reactive.QVCurve`, IEEE 1547-2018 volt-var / VDE-AR-N 4105 Q(U)):
q stays within its limit, is zero in the dead band, full at the ends and never falls as the voltage rises; the
lot sends the curve's q at its step's power and the bus voltage it was given."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.parking.ev import EV
from simulators.parking.fleet import save_fleet_csv
from simulators.parking.lot import ParkingLot
from simulators.parking.reactive import QVCurve, ReactiveConfigError, qv_curve
from simulators.parking.simulator import ParkingSim

VOLTS = st.floats(0.5, 1.5, allow_nan=False)


@st.composite
def curves(draw) -> QVCurve:
    """Any valid curve: rising breakpoints in [0.8, 1.2] p.u., a minimum pf in (0, 1], maybe a kvar rating."""
    v = sorted(draw(st.lists(st.floats(0.8, 1.2, allow_nan=False), min_size=4, max_size=4)))
    if not v[0] < v[1] or not v[2] < v[3]:
        v = [0.92, 0.98, 1.02, 1.08]
    pf = draw(st.floats(0.05, 1.0, allow_nan=False))
    cap = draw(st.one_of(st.just(math.inf), st.floats(0.1, 1000.0, allow_nan=False)))
    return QVCurve(*v, min_power_factor=pf, max_kvar=cap)


@settings(max_examples=300, deadline=None)
@given(curve=curves(), p_kw=st.floats(-2000.0, 2000.0, allow_nan=False), v1=VOLTS, v2=VOLTS)
def test_q_is_within_its_limit_zero_in_the_dead_band_and_monotone(curve, p_kw, v1, v2):
    limit = min(abs(p_kw) * math.tan(math.acos(curve.min_power_factor)), curve.max_kvar)
    q1, q2 = curve.q_kvar(p_kw, v1), curve.q_kvar(p_kw, v2)
    assert -limit - 1e-9 <= q1 <= limit + 1e-9
    if curve.v2_pu <= v1 <= curve.v3_pu:
        assert q1 == 0.0
    if v1 <= curve.v1_pu:
        assert q1 == pytest.approx(-limit)  # full injection: raises a low voltage
    if v1 >= curve.v4_pu:
        assert q1 == pytest.approx(limit)  # full absorption: lowers a high voltage
    lo, hi = (q1, q2) if v1 <= v2 else (q2, q1)
    assert lo <= hi + 1e-12  # monotone non-decreasing in v


def test_the_default_curve_is_ieee_1547_category_b():
    curve = QVCurve()
    assert (curve.v1_pu, curve.v2_pu, curve.v3_pu, curve.v4_pu) == (0.92, 0.98, 1.02, 1.08)
    # pf 0.90 at full absorption: 43.6 % of the apparent power (IEEE 1547's 44 %)
    q, p = curve.q_kvar(100.0, 1.10), 100.0
    assert q / math.hypot(p, q) == pytest.approx(0.436, abs=1e-3)
    assert curve.q_kvar(100.0, 0.95) == pytest.approx(-0.5 * 100.0 * math.tan(math.acos(0.9)))  # half-way V1..V2
    assert curve.q_kvar(0.0, 0.90) == 0.0  # idle chargers give no reactive power
    assert QVCurve(max_kvar=10.0).q_kvar(-500.0, 0.80) == -10.0  # the kvar rating caps it, feeding in too


@pytest.mark.parametrize("fields, word", [
    ({"v1_pu": 0.99}, "out of order"), ({"v3_pu": 1.09}, "out of order"), ({"v4_pu": 2.0}, "v4_pu"),
    ({"min_power_factor": 0.0}, "min_power_factor"), ({"min_power_factor": 1.1}, "min_power_factor"),
    ({"max_kvar": 0.0}, "max_kvar"), ({"v2_pu": True}, "v2_pu"), ({"slope": 1.0}, "unknown key"),
])
def test_bad_curves_name_the_field(fields, word):
    with pytest.raises(ReactiveConfigError, match=word):
        qv_curve(fields)


def test_the_lot_sends_the_curves_q_at_the_voltage_it_was_given():
    evs = [EV(f"e{i}", 0.0, 6.0, 60.0, 11.0, 0.5, v2g_allowed=True, soc_min=0.2) for i in range(10)]
    curve = QVCurve()
    lot = ParkingLot(evs, qv_curve=curve)
    assert lot.advance(100.0, 1.0)["q_kvar"] == 0.0  # nominal voltage until one is measured: the dead band
    lot.bus_v_pu = 0.93
    out = lot.advance(100.0, 2.0)
    assert out["q_kvar"] == pytest.approx(curve.q_kvar(out["p_kw"], 0.93)) and out["q_kvar"] < -30.0
    lot.bus_v_pu = 1.05
    out = lot.advance(-80.0, 3.0)  # feeding in at a high voltage: absorbs
    assert out["p_kw"] == pytest.approx(-80.0) and out["q_kvar"] == pytest.approx(curve.q_kvar(-80.0, 1.05))
    assert out["q_kvar"] > 0.0


def test_the_simulator_feeds_the_measured_voltage_and_holds_it_through_a_nan(tmp_path):
    fleet = tmp_path / "fleet.csv"
    save_fleet_csv([EV(f"e{i}", 0.0, 8.0, 60.0, 11.0, 0.3) for i in range(10)], fleet)
    sim = ParkingSim()
    sim.init("Parking")
    sim.create(1, "Lot", fleet=str(fleet), lot_id="L", qv={"v1_pu": 0.93, "v2_pu": 0.96})
    curve = QVCurve(v1_pu=0.93, v2_pu=0.96)
    for hour, v_pu, read in ((0, 0.94, 0.94), (1, float("nan"), 0.94), (2, None, 0.94), (3, 0.95, 0.95)):
        inputs = {"L": {"setpoint_kw": {"PLO.L": 80.0}, **({} if v_pu is None else {"v_pu": {"Grid.conn": v_pu}})}}
        sim.step(hour, inputs, hour + 1)
        out = sim.get_data({"L": ["p_kw", "q_kvar"]})["L"]
        assert out["p_kw"] == pytest.approx(80.0)
        assert out["q_kvar"] == pytest.approx(curve.q_kvar(out["p_kw"], read)) and out["q_kvar"] < 0.0
