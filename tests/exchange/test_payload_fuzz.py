"""Arbitrary JSON in any field of any payload kind: the receiving agent accepts or rejects it, never crashes.

A real offer (with its envelope and its EVs), schedule and signal are built by the real agents; one field (or one
field of the envelope, of the EVs, of the economics) is replaced by an arbitrary JSON value - nested lists and
tables, text, booleans, NaN, infinities, 1e308, 401-digit integers - and the message goes to the real agent
without authentication (so only the payload checks stand between it and the plan)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, fleet_forecast, make_dso, make_plos, message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim.controllers.base import HOURS
from cosim.controllers.plo_scheduler import DsoSignal
from cosim.exchange.payloads import schedule_payload

NASTY = st.sampled_from([10**401, -10**401, 2**64, float("nan"), float("inf"), -float("inf"), 1e308, -1e308, True,
                         None, "7", [], {}, [10**401] * HOURS, [float("nan")] * HOURS, [True] * HOURS])
ANY = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**401, max_value=10**401)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308, 10**401, 0.5])
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=40,
)
JSON = NASTY | ANY  # half the draws a value known to have crashed a check somewhere

_OFFERS: dict = {}


def honest_offer() -> dict:
    if not _OFFERS:
        plos = make_plos("centralised", {})
        (m,) = plos["lot1"].start_day(0, fleet_forecast(n_pevs=10), PRICE)
        _OFFERS["lot1"] = m["payload"]
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in _OFFERS["lot1"].items()}


OFFER_FIELDS = sorted(honest_offer())
NESTED = {"envelope": sorted(honest_offer()["envelope"]), "fleet": sorted(honest_offer()["fleet"]),
          "economics": sorted(honest_offer()["economics"])}


@st.composite
def edited_offers(draw):
    payload = honest_offer()
    field = draw(st.sampled_from(OFFER_FIELDS))
    value = draw(JSON)
    if field in NESTED and draw(st.booleans()):
        inner = dict(payload[field])
        inner[draw(st.sampled_from(NESTED[field]))] = value
        payload[field] = inner
    else:
        payload[field] = value
    return payload


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_offers())
@pytest.mark.slow
def test_any_json_in_any_offer_field_is_accepted_or_rejected_never_a_crash(payload):
    dso = make_dso("centralised", "rule", keys={})
    offers = dso.accept(0, [message("lot1", "DSO", "offer", payload, None)])
    if "lot1" not in offers:
        assert dso.events and dso.events[-1]["event"] in ("rejected message", "implausible offer")
        return
    dso.day_ahead(0, offers, LOAD_SCALING, PRICE)  # what was accepted can be planned with


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["schedule", "signal"]), st.data())
@pytest.mark.slow
def test_any_json_in_any_dso_message_field_is_accepted_or_rejected_never_a_crash(kind, data):
    plo = make_plos("centralised" if kind == "schedule" else "signals", {})["lot1"]
    plo.start_day(0, fleet_forecast(n_pevs=10), PRICE)
    if kind == "schedule":
        payload = schedule_payload(np.full(HOURS, 5.0), 18, start_hour=None)
    else:
        payload = DsoSignal(np.zeros(HOURS), np.full(HOURS, 50.0), np.full(HOURS, 50.0)).to_payload()
    field = data.draw(st.sampled_from(sorted(payload) + ["start_hour"]))
    payload[field] = data.draw(JSON)
    plo.receive(0, message("DSO", "lot1", kind, payload, None))
    setpoints = [plo.setpoint_kw(h) for h in range(HOURS)]
    assert all(math.isfinite(v) for v in setpoints)  # whatever came, the lot gets finite setpoints
