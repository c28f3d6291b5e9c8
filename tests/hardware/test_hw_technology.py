"""Technology nodes: the fits reproduce the cited points; scaling follows the stated formulas."""

from __future__ import annotations

import pytest
from hw_helpers import toy_technology

from dse.errors import ConfigError
from plugins.hardware.technology import fit_power_law, known_nodes, load_technology


def test_shipped_nodes() -> None:
    assert {"28nm", "45nm"} <= set(known_nodes())


def test_45nm_reproduces_horowitz() -> None:
    t = load_technology("45nm")
    assert t.energy_scale == 1.0 and t.area_scale == 1.0
    assert t.add_pj(8) == pytest.approx(0.03) and t.add_pj(32) == pytest.approx(0.1)
    # quadratic multiplier through two points: within the points' own spread (3 %)
    assert t.mul_pj(8, 8) == pytest.approx(0.2, rel=0.03)
    assert t.mul_pj(32, 32) == pytest.approx(3.1, rel=0.03)
    # power law through 8 KB / 32 KB / 1 MB: 10, 20, 100 pJ per 64-bit access, within 10 %
    for kb, pj64 in ((8, 10.0), (32, 20.0), (1024, 100.0)):
        assert 64 * t.sram_pj_per_bit_at(kb) == pytest.approx(pj64, rel=0.1)
    assert 64 * t.dram_pj_per_bit == pytest.approx(1300.0)


def test_28nm_scaling_and_cacti_points() -> None:
    t28, t45 = load_technology("28nm"), load_technology("45nm")
    scale = 28 / 45 * (0.9 / 0.9) ** 2
    assert t28.add_pj(16) == pytest.approx(t45.add_pj(16) * scale)
    assert t28.mul_pj(5, 8) == pytest.approx(t45.mul_pj(5, 8) * scale)
    assert t28.add_area_mm2(16) == pytest.approx(t45.add_area_mm2(16) * (28 / 45) ** 2)
    # two CACTI points: the power law passes through both exactly
    assert 256 * t28.sram_pj_per_bit_at(32) == pytest.approx(11.0)
    assert 256 * t28.sram_pj_per_bit_at(144) == pytest.approx(28.6)
    assert t28.sram_area_mm2(1) == pytest.approx(8192 * 0.127 / 0.6 * 1e-6)


def test_sram_energy_grows_with_capacity() -> None:
    t = load_technology("28nm")
    energies = [t.sram_pj_per_bit_at(kb) for kb in (1, 8, 64, 512, 4096)]
    assert all(a < b for a, b in zip(energies, energies[1:], strict=False))


def test_fit_power_law_exact() -> None:
    k, p = fit_power_law(((2.0, 8.0), (4.0, 32.0), (8.0, 128.0)))
    assert k == pytest.approx(2.0) and p == pytest.approx(2.0)


def test_unknown_node_is_one_clear_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_technology("7nm")
    assert str(err.value).startswith("hardware.technology must be one of ['28nm', '45nm']")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"node_nm": 0.0}, "node_nm must be > 0"),
        ({"vdd_v": -0.9}, "vdd_v must be > 0"),
        ({"sram_array_efficiency": 1.5}, "sram_array_efficiency must be in (0, 1]"),
        ({"pe_overhead": 0.5}, "pe_overhead must be >= 1"),
        ({"leakage_mw_per_mm2": -1.0}, "leakage_mw_per_mm2 must be >= 0"),
        ({"sram_pj_per_bit": ((32.0, 0.1),)}, "sram_pj_per_bit needs at least 2"),
    ],
)
def test_invalid_technology(change, field) -> None:
    with pytest.raises(ConfigError, match="hardware.technology") as err:
        toy_technology(**change)
    assert field in str(err.value)


def test_mapping_with_unknown_key() -> None:
    with pytest.raises(ConfigError, match="unknown keys"):
        load_technology({"node_nm": 28, "bogus": 1})
