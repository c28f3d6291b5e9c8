"""Technology nodes: the fits reproduce the cited points; scaling follows the stated formulas."""

from __future__ import annotations

import pytest

from dse.api.errors import ConfigError
from dse.builtin.hardware.technology import fit_product, known_nodes, load_technology
from tests.support.hardware import toy_technology


def test_shipped_nodes() -> None:
    assert {"28nm", "45nm"} <= set(known_nodes())


def test_45nm_reproduces_horowitz() -> None:
    t = load_technology("45nm")
    assert t.energy_scale == 1.0 and t.area_scale == 1.0
    assert t.add_pj(8) == pytest.approx(0.03) and t.add_pj(32) == pytest.approx(0.1)
    # m0 + m1 b^2 through both of Horowitz's points, exactly (energy and area)
    assert t.mul_pj(8, 8) == pytest.approx(0.2) and t.mul_pj(32, 32) == pytest.approx(3.1)
    assert t.mul_area_mm2(8, 8) == pytest.approx(282e-6)
    assert t.mul_area_mm2(32, 32) == pytest.approx(3495e-6)
    assert t.add_area_mm2(8) == pytest.approx(36e-6) and t.add_area_mm2(32) == pytest.approx(137e-6)
    assert 64 * t.dram_pj_per_bit == pytest.approx(1300.0)


def test_sram_is_the_cacti_table_at_its_rows() -> None:
    """At a tabulated capacity the model returns CACTI's figure (per 128-bit access)."""
    for name in ("28nm", "45nm"):
        t = load_technology(name)
        assert t.sram_access_bits == 128
        for kb, read, write, mm2 in t.sram_table:
            assert 128 * t.sram_read_pj_per_bit(kb) == pytest.approx(read)
            assert 128 * t.sram_write_pj_per_bit(kb) == pytest.approx(write)
            assert t.sram_area_mm2(kb) == pytest.approx(mm2)
    t28 = load_technology("28nm")
    # CACTI 7, 28 nm, 256 KB, 128-bit: 39.76 pJ per read, 0.7436 mm^2 (bench/cacti_sram_table.py)
    assert 128 * t28.sram_read_pj_per_bit(256) == pytest.approx(39.7598)
    assert t28.sram_area_mm2(256) == pytest.approx(0.7436)


def test_sram_cacti_agrees_with_horowitz_within_2x() -> None:
    """Horowitz's 45 nm 64-bit SRAM figures (10 / 20 / 100 pJ at 8 KB / 32 KB / 1 MB) against
    the 45 nm CACTI table per bit: the two sources agree within a factor of 2."""
    t = load_technology("45nm")
    for kb, pj64 in ((8, 10.0), (32, 20.0), (1024, 100.0)):
        ratio = t.sram_read_pj_per_bit(kb) / (pj64 / 64)
        assert 0.45 < ratio <= 1.0, (kb, ratio)


def test_sram_interpolates_log_log_between_rows() -> None:
    t = toy_technology()  # read 0.1 sqrt(KB) pJ/bit through (1 KB, 4 KB), extended beyond
    for kb in (0.25, 1.0, 2.0, 4.0, 16.0):
        assert t.sram_read_pj_per_bit(kb) == pytest.approx(0.1 * kb**0.5)
        assert t.sram_write_pj_per_bit(kb) == pytest.approx(0.2 * kb**0.5)
        assert t.sram_area_mm2(kb) == pytest.approx(0.001 * kb)
    t28 = load_technology("28nm")
    e = [t28.sram_read_pj_per_bit(kb) for kb in (1, 3, 8, 100, 1000, 9000, 16384)]
    assert all(a < b for a, b in zip(e, e[1:], strict=False))
    a = [t28.sram_area_mm2(kb) for kb in (1, 3, 8, 100, 1000, 9000, 16384)]
    assert all(x < y for x, y in zip(a, a[1:], strict=False))


def test_28nm_logic_scaling() -> None:
    t28, t45 = load_technology("28nm"), load_technology("45nm")
    scale = 28 / 45 * (0.9 / 0.9) ** 2
    assert t28.add_pj(16) == pytest.approx(t45.add_pj(16) * scale)
    assert t28.mul_pj(5, 8) == pytest.approx(t45.mul_pj(5, 8) * scale)
    assert t28.add_area_mm2(16) == pytest.approx(t45.add_area_mm2(16) * (28 / 45) ** 2)
    assert t28.mul_area_mm2(5, 8) == pytest.approx(t45.mul_area_mm2(5, 8) * (28 / 45) ** 2)


def test_fit_product_exact() -> None:
    m0, m1 = fit_product(((2.0, 5.0), (4.0, 17.0)))  # y = 1 + b^2
    assert m0 == pytest.approx(1.0) and m1 == pytest.approx(1.0)


def test_unknown_node_is_one_clear_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_technology("7nm")
    assert str(err.value).startswith("hardware.technology must be one of ['28nm', '45nm']")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"node_nm": 0.0}, "node_nm must be > 0"),
        ({"vdd_v": -0.9}, "vdd_v must be > 0"),
        ({"sram_access_bits": 0.0}, "sram_access_bits must be > 0"),
        ({"pe_overhead": 0.5}, "pe_overhead must be >= 1"),
        ({"leakage_mw_per_mm2": -1.0}, "leakage_mw_per_mm2 must be >= 0"),
        ({"sram_table": ((32.0, 1.0, 1.0, 0.1),)}, "sram_table needs at least 2"),
        ({"sram_table": ((1.0, 1.0, 1.0), (2.0, 1.0, 1.0))}, "rows must be 4 positive"),
    ],
)
def test_invalid_technology(change, field) -> None:
    with pytest.raises(ConfigError, match="hardware.technology") as err:
        toy_technology(**change)
    assert field in str(err.value)


def test_mapping_with_unknown_key() -> None:
    with pytest.raises(ConfigError, match="unknown keys"):
        load_technology({"node_nm": 28, "bogus": 1})
