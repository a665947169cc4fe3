"""The QP solver of the ADMM mode works whatever HiGHS solved before it in the same process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset


def test_a_qp_solves_after_another_solve_made_highs_thread_pool_with_other_threads():
    """HiGHS has one thread pool per process; a solve that asks for another thread count than the pool's fails
    ("Not Set"). It made a full test run fail at random (the pool came from an earlier test). A fresh process, so
    the pool made here does not reach other tests."""
    code = textwrap.dedent("""
        import highspy, numpy as np, scipy.sparse as sp
        from cosim.exchange.qp import solve_qp
        first = highspy.Highs()
        first.setOptionValue("output_flag", False)
        first.setOptionValue("threads", 2)
        first.passModel(highspy.HighsLp())
        first.run()
        r = solve_qp(np.array([1.0, -1.0]), sp.identity(2, format="csc"), sp.csr_matrix((0, 2)), np.zeros(0),
                     np.zeros(0), np.full(2, -5.0), np.full(2, 5.0))
        print(r.status, *np.round(r.x, 4))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-3:] == ["Optimal", "-1.0", "1.0"]
