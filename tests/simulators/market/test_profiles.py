"""Shipped profile data: seed-000 facts, seasonal sanity, and clear errors for bad profile files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.market import seed000 as s0
from simulators.market.profiles import (
    DATA_DIR,
    SEASONS,
    USD_PER_EUR,
    ProfileError,
    load_market,
    load_profile,
    read_hourly_table,
)


@pytest.fixture(scope="module")
def seed_load() -> np.ndarray:
    return load_profile(DATA_DIR / "seed000_load_kw.csv", "load_kw")


def test_seed000_mean_peak_and_of2_match_paper(seed_load):
    assert seed_load.shape == (24,)
    assert seed_load.mean() == pytest.approx(s0.P_TARGET_KW, abs=0.05)
    assert seed_load.max() == pytest.approx(s0.PEAK_KW, abs=0.01)
    assert int(np.argmax(seed_load)) + 1 == 15
    of2 = np.abs(s0.P_TARGET_KW - seed_load).sum()
    assert abs(of2 - s0.OF2_BASE_KW) < 1.0


def test_seed000_band_membership_per_hour(seed_load):
    for h in range(1, 25):
        p = seed_load[h - 1]
        if h in s0.BELOW_HOURS:
            assert p < s0.P_TARGET_MIN_KW, h
        elif h in s0.ABOVE_HOURS:
            assert p > s0.P_TARGET_MAX_KW, h
        else:
            assert s0.P_TARGET_MIN_KW <= p <= s0.P_TARGET_MAX_KW, h
    facts = s0.curve_facts(seed_load)
    assert facts.below_ok and facts.above_ok and facts.band_ok
    # The paper's band is +-5 % of the mean.
    assert 0.95 * facts.mean_kw == pytest.approx(s0.P_TARGET_MIN_KW, abs=0.1)
    assert 1.05 * facts.mean_kw == pytest.approx(s0.P_TARGET_MAX_KW, abs=0.1)


def test_seed000_price_lower_off_peak_and_matches_of1(seed_load):
    price = load_profile(DATA_DIR / "seed000_price.csv", "energy_price_usd_per_kwh")
    assert price.shape == (24,)
    off = price[[h - 1 for h in s0.BELOW_HOURS]]
    on = price[[h - 1 for h in s0.ABOVE_HOURS]]
    assert off.max() < on.min()
    assert int(np.argmax(price)) + 1 == s0.PEAK_HOUR
    assert s0.best_case1_benefit(price) == pytest.approx(s0.OF1_CASE1_USD, abs=0.05)
    # The shipped price is the documented reconstruction of the shipped load curve.
    np.testing.assert_allclose(price, s0.reconstruct_price(seed_load), atol=1e-5)


def test_expected_soc_from_table1():
    assert s0.expected_soc("ch") == pytest.approx(0.25)
    assert s0.expected_soc("disch") == pytest.approx(0.70)
    with pytest.raises(ValueError, match="kind"):
        s0.expected_soc("x")


def test_seed000_market_bundle():
    md = load_market("seed000")
    assert md.n_hours == 24
    np.testing.assert_allclose(md.load_kw.max(), 3800.0)
    assert md.load_scaling.max() == pytest.approx(3800.0 / 3715.0)
    assert np.all(md.reserve_capacity_price == 0) and np.all(md.call_probability == 0)
    three = load_market("seed000", days=3, start_day=1)
    assert three.n_hours == 72
    np.testing.assert_array_equal(three.day(2).energy_price, md.energy_price)


def test_seasonal_profiles_four_seasons_sane_ranges():
    tables = read_hourly_table(DATA_DIR / "seasonal_week.csv", ["load_pu", "energy_price_eur_per_mwh"],
                               group="season")
    assert sorted(tables) == sorted(SEASONS)
    means = {}
    for season in SEASONS:
        md = load_market(f"seasonal:{season}")
        assert md.n_hours == 168
        assert np.all((md.load_scaling > 0.1) & (md.load_scaling <= 1.0))
        # NL 2019 day-ahead averages: 10..120 EUR/MWh.
        eur = md.energy_price / USD_PER_EUR * 1000
        assert np.all((eur > 10) & (eur < 120))
        assert np.all((md.call_probability >= 0) & (md.call_probability <= 1))
        assert np.all(md.reserve_capacity_price >= 0)
        assert np.all(md.reserve_call_price >= md.energy_price)
        # Daily shape: night (hours 2-5) lighter than early evening (hours 18-20) on every day.
        for d in range(7):
            day = md.day(d).load_scaling
            assert day[1:5].mean() < day[17:20].mean()
        means[season] = md.load_scaling.mean()
    assert means["winter"] == max(means.values())
    assert load_market("seasonal", season="summer").name == "seasonal:summer"
    long = load_market("seasonal:spring", days=10)
    assert long.n_hours == 240
    np.testing.assert_array_equal(long.day(7).energy_price, long.day(0).energy_price)


def _write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "hour,load_kw\n" + "".join(f"{h},{1000 + h}\n" for h in range(1, 25))


@pytest.mark.parametrize(
    "text, pattern",
    [
        (GOOD.replace("5,1005\n", ""), r"hour\(s\) \[5\] missing"),
        (GOOD.replace("5,1005\n", "5,1005\n5,1006\n"), r"line 7, field 'hour': hour 5 duplicated"),
        (GOOD.replace("7,1007", "7,abc"), r"line 8, field 'load_kw': 'abc' is not a number"),
        (GOOD.replace("9,1009", "9,-3"), r"line 10, field 'load_kw': -3.0 is negative"),
        (GOOD.replace("9,1009", "9,"), r"line 10, field 'load_kw': value is missing"),
        (GOOD.replace("9,1009", "9,nan"), r"line 10, field 'load_kw'.*not a finite"),
        (GOOD.replace("3,1003", "x,1003"), r"line 4, field 'hour': 'x' is not an integer"),
        (GOOD.replace("3,1003", "0,1003"), r"line 4, field 'hour': 0"),
        ("hour,value\n1,2\n", r"missing column\(s\) \['load_kw'\]"),
        ("", r"empty"),
        ("hour,load_kw\n", r"no data rows"),
    ],
)
def test_bad_profile_files_give_clear_errors(tmp_path, text, pattern):
    p = _write(tmp_path, text)
    with pytest.raises(ProfileError, match=pattern) as info:
        load_profile(p, "load_kw")
    assert str(p) in str(info.value)


def test_missing_file_and_unknown_names(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.csv")
    with pytest.raises(ProfileError, match="unknown market profile 'foo'"):
        load_market("foo")
    with pytest.raises(ProfileError, match="unknown season 'monsoon'"):
        load_market("seasonal:monsoon")
    with pytest.raises(ProfileError, match="needs a season"):
        load_market("seasonal")
    with pytest.raises(ProfileError, match="days must be >= 1"):
        load_market("seed000", days=0)


def test_probability_out_of_range_is_rejected(tmp_path):
    p = _write(tmp_path, "hour,energy_price_usd_per_kwh,call_probability\n1,0.1,0.5\n2,0.1,1.5\n")
    with pytest.raises(ProfileError, match=r"line 3, field 'call_probability': 1.5 exceeds 1.0"):
        load_market(p)


def test_custom_csv_market(tmp_path):
    p = _write(tmp_path, "hour,energy_price_usd_per_kwh,load_kw\n1,-0.01,1000\n2,0.2,2000\n")
    md = load_market(str(p), nominal_load_kw=2000.0)
    np.testing.assert_allclose(md.energy_price, [-0.01, 0.2])  # negative prices are allowed
    np.testing.assert_allclose(md.load_scaling, [0.5, 1.0])
    assert md.at(3) == md.at(1)  # wraps


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), min_size=1, max_size=48),
       st.randoms(use_true_random=False))
def test_any_valid_profile_roundtrips_in_any_row_order(tmp_path_factory, values, rnd):
    rows = [f"{h},{v!r}\n" for h, v in enumerate(values, start=1)]
    rnd.shuffle(rows)
    p = tmp_path_factory.mktemp("prof") / "p.csv"
    p.write_text("hour,load_kw\n" + "".join(rows))
    np.testing.assert_array_equal(load_profile(p), np.array(values))


def test_a_table_read_again_is_a_fresh_copy_and_a_changed_file_is_read_again(tmp_path):
    """`read_hourly_table` keeps what it read and checked (a learning environment reads its market file at every
    reset): the same file again gives equal, independent arrays; the file changed on disk is read again, and a
    file that turns bad is refused again, not answered from what was kept."""
    path = tmp_path / "prices.csv"
    path.write_text("hour,price\n1,10\n2,20\n")
    first = read_hourly_table(path, ["price"])
    first[""]["price"][0] = 99.0  # a caller writing into its table does not change the next reader's
    again = read_hourly_table(path, ["price"])
    np.testing.assert_array_equal(again[""]["price"], [10.0, 20.0])
    path.write_text("hour,price\n1,11\n2,21\n3,31\n")
    np.testing.assert_array_equal(read_hourly_table(path, ["price"])[""]["price"], [11.0, 21.0, 31.0])
    path.write_text("hour,price\n1,11\n2,oops\n")
    with pytest.raises(ProfileError, match="line 3"):
        read_hourly_table(path, ["price"])
