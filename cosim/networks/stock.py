"""pandapower's own example networks, as a new user would bring them (`pandapower.to_json`, then a path), and a
parking lot sized from each one's loads: what tests/networks/test_stock_grids.py and scripts/grids_table.py
convert, validate and run.

Each is converted by `cosim.networks.switched` (transformers as branches, taps as given, every substation
rooting its own tree). pandapower's two Dickert LV networks here are its default one (one short cable, one
customer) and a long mixed cable/overhead feeder with many customers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["STOCK_GRIDS", "lot_for", "save_stock_grid"]


def _builders() -> dict[str, Callable]:
    import pandapower.networks as pn  # noqa: PLC0415 - pandapower only when a grid is built

    return {
        "case33bw": pn.case33bw,
        "mv_oberrhein": pn.mv_oberrhein,
        "cigre_mv": pn.create_cigre_network_mv,
        "cigre_mv_der": lambda: pn.create_cigre_network_mv(with_der="pv_wind"),
        "kerber_landnetz_kabel_1": pn.create_kerber_landnetz_kabel_1,
        "dickert_lv": pn.create_dickert_lv_network,
        "dickert_lv_long": lambda: pn.create_dickert_lv_network(feeders_range="long", linetype="C&OHL",
                                                                customer="multiple", case="good"),
    }


STOCK_GRIDS = ("case33bw", "mv_oberrhein", "cigre_mv", "cigre_mv_der", "kerber_landnetz_kabel_1", "dickert_lv",
               "dickert_lv_long")
"""The stock grids, by the names used in tests and docs/GRIDS.md."""


def save_stock_grid(name: str, folder: Path | str) -> Path:
    """Build one stock grid with pandapower and save it as `<folder>/<name>.json` (pandapower.to_json)."""
    import warnings  # noqa: PLC0415

    import pandapower as pp  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = _builders()[name]()
    path = Path(folder) / f"{name}.json"
    pp.to_json(net, str(path))
    return path


def lot_for(radial, v_pu: np.ndarray) -> dict:
    """A `[[lots]]` table for a grid, sized from its loads: at the load bus with the lowest voltage `v_pu` (the
    base state's), a stochastic fleet of about one EV per 25 kW of base load (2..40 a day), as many chargers,
    and a connection limit of a fifth of the base load (at least 11 kW)."""
    p = np.asarray(radial.p_load_kw, float)
    loaded = np.flatnonzero(p > 0)
    bus = int(loaded[np.argmin(np.asarray(v_pu)[loaded])]) + 1
    total_kw = float(p[p > 0].sum())
    n = int(np.clip(round(total_kw / 25.0), 2, 40))
    return {"id": "PL1", "bus": bus, "fleet": "stochastic", "fleet_options": {"n_per_day": n}, "n_chargers": n,
            "connection_limit_kw": max(11.0, round(total_kw / 5.0, 1))}
