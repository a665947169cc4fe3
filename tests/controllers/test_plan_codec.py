"""Plans cross the plug-in boundary as plain data (`cosim.controllers.plan_codec`): what a controller returns cannot run
code in the DSO's process, and the plan checked is a fresh copy the controller holds no reference to."""

from __future__ import annotations

import itertools
import json
import pickle

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, ieee33
from hostile_plans import Payload, PayloadController, Shifting
from hypothesis import given
from hypothesis import strategies as st

from cosim.controllers import DayAheadPlan, DayAheadProblem, make_controller
from cosim.controllers.isolation import ControllerFailure, plan_in_worker
from cosim.controllers.plan_codec import (
    MAX_DEPTH,
    MAX_ITEMS,
    PlanDataError,
    WorkerError,
    decode,
    encode_error,
    encode_plan,
    snapshot,
)


@pytest.fixture(scope="module")
def problem() -> DayAheadProblem:
    return DayAheadProblem(network=ieee33(), load_scaling=LOAD_SCALING, price_usd_per_kwh=PRICE)


@pytest.fixture(scope="module")
def eo_plan(problem) -> DayAheadPlan:
    return make_controller("eo", n_particles=4, n_iter=3, seed=0).plan(problem)


def _fields(plan: DayAheadPlan) -> dict:
    return {k: getattr(plan, k) for k in ("open_branches", "lot_buses", "feasible", "predicted", "controller")}


def test_a_plan_comes_back_as_a_fresh_copy_with_write_protected_arrays(eo_plan):
    plan = DayAheadPlan(**{**_fields(eo_plan), "setpoints_kw": {"PL1": np.arange(24.0)},
                           "predicted_hourly": dict(eo_plan.predicted_hourly),
                           "info": {**eo_plan.info, "nested": {"seeds": [1, 2], "ok": np.True_, "x": np.float32(0.5),
                                                               "big": 2**62, "nan": float("nan"), "none": None}}})
    for back in (decode(encode_plan(plan)), snapshot(plan)):
        assert _fields(back) == _fields(plan) and back is not plan
        np.testing.assert_array_equal(back.setpoints_kw["PL1"], np.arange(24.0))
        assert back.setpoints_kw["PL1"] is not plan.setpoints_kw["PL1"]
        for arr in (back.setpoints_kw["PL1"], *back.predicted_hourly.values(), back.info["history"]):
            assert not arr.flags.writeable
            with pytest.raises(ValueError):
                arr[0] = -900.0
        nested = back.info["nested"]
        assert nested["seeds"] == (1, 2) and nested["ok"] is True and nested["x"] == 0.5 and nested["big"] == 2**62
        assert np.isnan(nested["nan"]) and nested["none"] is None
        assert type(nested["ok"]) is bool and type(nested["x"]) is float  # numpy numbers become Python numbers


def test_the_message_is_json_and_raw_numbers_not_pickle(eo_plan):
    data = encode_plan(eo_plan)
    assert data.startswith(b"CPL1") and b"numpy" not in data and b"cosim" not in data
    header = json.loads(data[12:12 + int.from_bytes(data[4:12], "big")])  # the magic, the length, the header
    assert header["kind"] == "plan" and {a["dtype"] for a in header["arrays"]} <= {"<f8", "<i8", "|b1"}


@pytest.mark.parametrize("info, field", [
    ({"payload": Payload("shell", "MARKER")}, "info['payload'] holds a Payload object"),
    ({"a": [1, {"b": Payload("exit")}]}, "info['a'][1]['b'] holds a Payload object"),
    ({"s": {1, 2}}, "info['s'] holds a set object"),
    ({"o": np.array([Payload("exit")], dtype=object)}, "info['o'] is an array of dtype object"),
    ({"c": np.complex128(1j)}, "info['c'] holds a numpy complex128"),
    ({"i": 10**400}, "info['i'] holds an integer beyond 2**63 (1329 bits)"),
    ({"i": 10**5000}, "info['i'] holds an integer beyond 2**63"),  # beyond what str() of an int allows
    ({1: "one"}, "info has a key of type int"),
])
def test_what_is_not_plain_data_is_refused_naming_the_field_and_never_called(tmp_path, monkeypatch, info, field):
    monkeypatch.chdir(tmp_path)  # a shell Payload would create MARKER here
    plan = DayAheadPlan(open_branches=(33,), lot_buses={}, setpoints_kw={}, feasible=True, info=info)
    for convert in (encode_plan, snapshot):
        with pytest.raises(PlanDataError) as exc:
            convert(plan)
        assert str(exc.value).startswith(field), str(exc.value)
        assert exc.value.rejection.startswith(f"plan rejected, rule plain-data: {field}")
    assert not (tmp_path / "MARKER").exists()


def test_a_list_that_holds_itself_or_an_endless_sequence_is_refused_not_followed():
    loop: list = []
    loop.append(loop)
    plan = DayAheadPlan(open_branches=(33,), lot_buses={}, setpoints_kw={}, feasible=True, info={"loop": loop})
    with pytest.raises(PlanDataError, match=f"nested more than {MAX_DEPTH} levels"):
        encode_plan(plan)
    endless = DayAheadPlan(open_branches=itertools.count(1), lot_buses={}, setpoints_kw={}, feasible=True)
    with pytest.raises(PlanDataError, match=f"open_branches has more than {MAX_ITEMS:,} items"):
        snapshot(endless)
    with pytest.raises(PlanDataError, match="not a DayAheadPlan"):
        encode_plan({"open_branches": (33,)})


class Raising:
    """An array-like that raises when it is read."""

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("read me not")


def test_an_array_like_that_raises_when_read_is_a_plan_data_error_in_process():
    plan = DayAheadPlan(open_branches=(33,), lot_buses={}, setpoints_kw={"PL1": Raising()}, feasible=True)
    with pytest.raises(PlanDataError, match=r"could not be read \(RuntimeError: read me not\)"):
        snapshot(plan)


def test_an_array_like_is_read_once_and_its_first_values_are_the_plans(eo_plan):
    plan = DayAheadPlan(open_branches=Shifting([33, 34, 35, 36, 37], [1, 2]), lot_buses={"PL1": 18},
                        setpoints_kw={"PL1": Shifting(np.arange(24.0), np.full(24, -900.0))}, feasible=True)
    back = snapshot(plan)
    assert back.open_branches == (33, 34, 35, 36, 37)
    np.testing.assert_array_equal(back.setpoints_kw["PL1"], np.arange(24.0))
    np.testing.assert_array_equal(back.setpoints_kw["PL1"], np.arange(24.0))  # and it stays so


def test_a_failure_crosses_as_three_plain_strings():
    assert decode(encode_error("the controller raised ValueError: x", "Traceback ...", "u.py:3 in plan")) == \
        WorkerError("the controller raised ValueError: x", "Traceback ...", "u.py:3 in plan")
    assert decode(encode_error("died")) == WorkerError("died", None, None)


def test_bytes_that_are_not_a_plan_are_refused_with_one_error(eo_plan):
    good = encode_plan(eo_plan)
    header_end = 12 + int.from_bytes(good[4:12], "big")
    header = json.loads(good[12:header_end])
    cases = [pickle.dumps(eo_plan), b"", good[:-1], good + b"\0", b"CPL1" + (10**9).to_bytes(8, "big")]
    for change in ({"arrays": [{"dtype": "|O8", "shape": [1]}]}, {"kind": "code"}, {"fields": {"info": 1}},
                   {"arrays": [{"dtype": "<f8", "shape": [-24]}]}):
        text = json.dumps({**header, **change}).encode()
        cases.append(b"CPL1" + len(text).to_bytes(8, "big") + text + good[header_end:])
    deep = json.dumps({**header, "fields": {**header["fields"], "info": "DEEP"}}).replace(
        '"DEEP"', "[" * 100_000 + "]" * 100_000).encode()  # json's own recursion limit
    cases.append(b"CPL1" + len(deep).to_bytes(8, "big") + deep + good[header_end:])
    for data in cases:
        with pytest.raises(PlanDataError):
            decode(data)


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=10_000))
def test_any_damage_to_a_message_is_a_plan_or_a_plan_data_error(noise, at):
    data = encode_plan(DayAheadPlan(open_branches=(33, 34), lot_buses={"PL1": 18}, feasible=True,
                                    setpoints_kw={"PL1": np.ones(24)}, info={"k": [1.5, "x", None, True]}))
    at = at % (len(data) + 1)
    try:
        back = decode(data[:at] + noise + data[at + len(noise):])
    except PlanDataError:
        return
    assert isinstance(back, DayAheadPlan | WorkerError)


def test_a_worker_refuses_a_payload_and_the_run_process_never_unpickles_it(problem, tmp_path):
    marker = tmp_path / "marker"
    with pytest.raises(ControllerFailure, match=r"rule plain-data: info\['payload'\] holds a Payload object"):
        plan_in_worker(PayloadController("shell", str(marker)), problem, 60.0)
    assert not marker.exists()
    plan = plan_in_worker(make_controller("eo", n_particles=4, n_iter=2, seed=0), problem, 60.0)
    assert all(not a.flags.writeable for a in plan.predicted_hourly.values())
