import numpy as np
import pytest

from cosim.networks import load_network
from cosim.powerflow.network_data import NetworkDataError


def test_ieee33_numbering_and_loops():
    g = load_network("ieee33")
    r = g.radial
    assert r.n_bus == 33 and r.n_branch == 37
    assert r.tie_branches == (33, 34, 35, 36, 37)
    assert len(g.loops) == 5
    assert g.loops[0] == (2, 3, 4, 5, 6, 7, 18, 19, 20, 33)  # Baran & Wu loop of tie 33 (8-21)
    assert np.isclose(r.p_load_kw.sum(), 3715.0)
    # tie 33 joins buses 8 and 21 (1-based)
    k = r.branch_index(33)
    assert {int(r.from_bus[k]) + 1, int(r.to_bus[k]) + 1} == {8, 21}


def test_bad_names_are_clear():
    with pytest.raises(NetworkDataError, match="unknown network 'nope'"):
        load_network("nope")
    with pytest.raises(NetworkDataError, match="no branch 99"):
        load_network("ieee33").radial.branch_index(99)
