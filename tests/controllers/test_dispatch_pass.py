"""The compiled PEV-count decoding (`dispatch_pass.decode`) gives the numpy decoding's integers on drawn positions
and layouts: eq. 6 balanced or not, with and without a daily cap, positions outside [0, 1] clipped."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers.dispatch import LotDispatchLayout, decode_counts, decode_counts_numpy


@st.composite
def layouts(draw) -> LotDispatchLayout:
    k = draw(st.integers(0, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    hours = np.sort(rng.choice(24, k, replace=False))
    sign = rng.choice(np.array([-1, 1]), k)
    n_max = rng.integers(1, draw(st.sampled_from([2, 5, 60])), k)
    cap = draw(st.sampled_from([np.inf, 0.0, 2.0, 7.5, 400.0]))
    return LotDispatchLayout(None, hours, sign, n_max, cap, draw(st.booleans()))


@settings(max_examples=200, deadline=None)
@given(layouts(), st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_the_compiled_decoding_gives_the_numpy_decodings_counts(layout, seed, pop):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.1, 1.1, (pop, layout.n_var))
    x[:, : layout.n_var // 3] = np.round(x[:, : layout.n_var // 3] * 4) / 4  # exact ties of the remainders
    fast, ref = decode_counts(x, layout), decode_counts_numpy(x, layout)
    assert fast.dtype == ref.dtype == np.int64 and fast.shape == ref.shape == (pop, 24)
    np.testing.assert_array_equal(fast, ref)
    if layout.balance:  # eq. 6 by construction, as the numpy decoding promises
        assert np.array_equal(np.maximum(fast, 0).sum(1), np.maximum(-fast, 0).sum(1))

