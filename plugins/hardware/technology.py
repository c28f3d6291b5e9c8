"""Technology nodes: cited energy/area points and the formulas that scale them.

A :class:`Technology` holds the raw published points of one CMOS node (the YAML files in
``conf/hardware/technology/`` give every point with its source) and turns them into
per-operation costs with stated formulas (docs/HARDWARE.md, section "Technology"):

* adder energy and area: affine in the bit width, least-squares line through the points;
* multiplier energy and area: ``m0 + m1 * b_w * b_a`` (an array multiplier has
  ``b_w * b_a`` partial-product cells), least-squares line in ``b**2`` through the points
  (exact through two);
* logic at another node: energy x ``(L / L_ref) * (V / V_ref)**2`` (first-order C V^2
  with gate capacitance proportional to feature length L), area x ``(L / L_ref)**2``;
* SRAM read/write energy per accessed bit and macro area: one table of CACTI 7 results
  per node (``sram_table``: capacity KB, read pJ and write pJ per ``sram_access_bits``-wide
  access, area mm^2; the exact CACTI configuration is in the YAML and in
  ``bench/cacti_sram_table.py``, which regenerates it), interpolated piecewise linearly in
  log-log between the tabulated capacities (1 KB to 16 MB); beyond the ends the end
  segment's slope is extended (stated, not CACTI).

Plain python arithmetic: the processors call these once per construction.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from importlib.resources import files

from dse.api.errors import ConfigError, require

# The node files ship as package data of dse (conf/hardware/technology/ in a checkout,
# dse/conf/hardware/technology/ in a wheel), read like any plugin reads its own data.
TECHNOLOGY_DIR = files("dse.conf") / "hardware" / "technology"

Points = tuple[tuple[float, float], ...]

# Constant groups a technology states a spread for (docs/HARDWARE.md, "Energy bands"):
# logic (adds, shifts, multiplies), sram (CACTI tables), wire, clock (clock network and
# registers), dram, leakage.
SPREAD_GROUPS: tuple[str, ...] = ("logic", "sram", "wire", "clock", "dram", "leakage")


def known_nodes() -> list[str]:
    """Names of the technology configs shipped in ``conf/hardware/technology/``."""
    return sorted(
        p.name[: -len(".yaml")] for p in TECHNOLOGY_DIR.iterdir() if p.name.endswith(".yaml")
    )


@dataclass(frozen=True)
class Technology:
    """One CMOS node: cited points plus the fits derived from them (see module doc)."""

    name: str
    node_nm: float
    vdd_v: float
    ref_node_nm: float  # node of the logic points below
    ref_vdd_v: float  # supply of the logic points below
    ref_add_pj: Points  # (bits, pJ) per addition at the reference node
    ref_mul_pj: Points  # (bits, pJ) per b x b multiplication at the reference node
    ref_add_area_um2: Points  # (bits, um^2)
    ref_mul_area_um2: Points  # (bits, um^2)
    shift_rel_add: float  # barrel-shift energy/area relative to an adder of the same width
    # (capacity KB, read pJ per access, write pJ per access, area mm^2), CACTI at this node
    sram_table: tuple[tuple[float, float, float, float], ...]
    sram_access_bits: float  # bits per access of the tabulated SRAMs
    dram_pj_per_bit: float
    pe_overhead: float  # PE area / datapath area (registers, control, wiring)
    leakage_mw_per_mm2: float
    # What an architecture-level count leaves out (docs/HARDWARE.md, "Clock, registers and
    # wires"); 0 = not modelled (the hand-made test nodes).
    wire_pj_per_bit_mm: float = 0.0  # on-chip wire: energy per bit moved one millimetre
    clock_register_share: float = 0.0  # clock network + pipeline registers: share of dynamic energy
    # stated spreads of the constants, per group: (group, low factor, high factor); the band
    spread: tuple[tuple[str, float, float], ...] = ()
    # derived in __post_init__
    energy_scale: float = field(init=False)
    area_scale: float = field(init=False)
    _add: tuple[float, float] = field(init=False, repr=False)
    _mul: tuple[float, float] = field(init=False, repr=False)
    _add_area: tuple[float, float] = field(init=False, repr=False)
    _mul_area: tuple[float, float] = field(init=False, repr=False)
    _sram_log: tuple[tuple[float, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        f = f"hardware.technology({self.name})"
        keys = ("node_nm", "vdd_v", "ref_node_nm", "ref_vdd_v", "dram_pj_per_bit")
        for key in (*keys, "sram_access_bits"):
            value = getattr(self, key)
            require(value > 0, f"{f}.{key}", "must be > 0", value)
        require(self.shift_rel_add >= 0, f"{f}.shift_rel_add", "must be >= 0", self.shift_rel_add)
        require(self.pe_overhead >= 1, f"{f}.pe_overhead", "must be >= 1", self.pe_overhead)
        require(
            self.leakage_mw_per_mm2 >= 0,
            f"{f}.leakage_mw_per_mm2",
            "must be >= 0",
            self.leakage_mw_per_mm2,
        )
        for key in ("ref_add_pj", "ref_mul_pj", "ref_add_area_um2", "ref_mul_area_um2"):
            _check_points(getattr(self, key), f"{f}.{key}", 2)
        _check_sram_table(self.sram_table, f"{f}.sram_table")
        require(
            self.wire_pj_per_bit_mm >= 0,
            f"{f}.wire_pj_per_bit_mm",
            "must be >= 0",
            self.wire_pj_per_bit_mm,
        )
        require(
            0 <= self.clock_register_share < 1,
            f"{f}.clock_register_share",
            "must be in [0, 1)",
            self.clock_register_share,
        )
        for row in self.spread:
            require(
                len(row) == 3
                and row[0] in SPREAD_GROUPS
                and 0 <= float(row[1]) <= 1 <= float(row[2]),
                f"{f}.spread",
                f"rows must be [group, low <= 1, high >= 1] with group in {list(SPREAD_GROUPS)}",
                row,
            )
        ratio = self.node_nm / self.ref_node_nm
        set_ = object.__setattr__
        set_(self, "energy_scale", ratio * (self.vdd_v / self.ref_vdd_v) ** 2)
        set_(self, "area_scale", ratio**2)
        set_(self, "_add", fit_affine(self.ref_add_pj))
        set_(self, "_mul", fit_product(self.ref_mul_pj))
        set_(self, "_add_area", fit_affine(self.ref_add_area_um2))
        set_(self, "_mul_area", fit_product(self.ref_mul_area_um2))
        # log of (KB, read pJ/bit, write pJ/bit, mm^2): interpolated linearly in log-log
        per_bit = 1.0 / self.sram_access_bits
        rows = sorted(self.sram_table)
        set_(
            self,
            "_sram_log",
            tuple(
                tuple(math.log(v) for v in col)
                for col in zip(
                    *((kb, rd * per_bit, wr * per_bit, mm2) for kb, rd, wr, mm2 in rows),
                    strict=True,
                )
            ),
        )

    @property
    def clock_factor(self) -> float:
        """Clock network + registers per pJ of the rest of the dynamic on-chip energy:
        share / (1 - share) (a chip whose clock and registers take share s of its dynamic
        energy spends s / (1 - s) on them per pJ of the rest)."""
        return self.clock_register_share / (1.0 - self.clock_register_share)

    def spread_of(self, group: str) -> tuple[float, float]:
        """(low, high) factor of a constant group; (1, 1) when no spread is stated."""
        for name, low, high in self.spread:
            if name == group:
                return float(low), float(high)
        return 1.0, 1.0

    # ---------------------------------------------------------------- energy (pJ)
    def add_pj(self, bits: float) -> float:
        """One addition (or comparison: a subtraction) of ``bits``-wide operands."""
        a0, a1 = self._add
        return (a0 + a1 * bits) * self.energy_scale

    def shift_pj(self, bits: float) -> float:
        """One barrel shift of a ``bits``-wide word."""
        return self.shift_rel_add * self.add_pj(bits)

    def mul_pj(self, weight_bits: float, activation_bits: float) -> float:
        """One ``weight_bits`` x ``activation_bits`` multiplication."""
        m0, m1 = self._mul
        return (m0 + m1 * weight_bits * activation_bits) * self.energy_scale

    def sram_read_pj_per_bit(self, capacity_kb: float) -> float:
        """Read energy per bit of an SRAM of ``capacity_kb`` KB (CACTI table, log-log)."""
        return self._sram_interp(capacity_kb, 1)

    def sram_write_pj_per_bit(self, capacity_kb: float) -> float:
        """Write energy per bit of an SRAM of ``capacity_kb`` KB (CACTI table, log-log)."""
        return self._sram_interp(capacity_kb, 2)

    def _sram_interp(self, capacity_kb: float, column: int) -> float:
        xs, ys = self._sram_log[0], self._sram_log[column]
        x = math.log(capacity_kb)
        # the segment containing x; the end segments extend beyond the table
        i = min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)
        slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
        return math.exp(ys[i] + slope * (x - xs[i]))

    # ---------------------------------------------------------------- area (mm^2)
    def add_area_mm2(self, bits: float) -> float:
        b0, b1 = self._add_area
        return (b0 + b1 * bits) * self.area_scale * 1e-6

    def mul_area_mm2(self, weight_bits: float, activation_bits: float) -> float:
        m0, m1 = self._mul_area
        return (m0 + m1 * weight_bits * activation_bits) * self.area_scale * 1e-6

    def sram_area_mm2(self, capacity_kb: float) -> float:
        """Macro area of an SRAM of ``capacity_kb`` KB (CACTI table, log-log)."""
        return self._sram_interp(capacity_kb, 3)

    @classmethod
    def from_mapping(cls, data: Mapping, name: str = "") -> Technology:
        """Build from a config mapping (a composed ``hardware.technology`` node)."""
        allowed = {f.name for f in fields(cls) if f.init}
        optional = {f.name for f in fields(cls) if f.init and f.default is not MISSING}
        given = set(data.keys())
        unknown = sorted(given - allowed)
        require(
            not unknown,
            "hardware.technology",
            f"has unknown keys (valid: {sorted(allowed)})",
            unknown,
        )
        missing = sorted(allowed - given - optional - {"name"})
        require(not missing, "hardware.technology", "misses keys", missing)
        kwargs: dict = {}
        for key in allowed & given:
            value = data[key]
            if key == "name":
                kwargs[key] = str(value)
            elif key == "spread":
                kwargs[key] = _spread_rows(value)
            elif isinstance(value, (int, float)):
                kwargs[key] = float(value)
            else:
                try:
                    kwargs[key] = tuple(tuple(float(x) for x in row) for row in value)
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"hardware.technology.{key} must be a number or a list of "
                        f"rows of numbers (got {value!r})"
                    ) from None
        kwargs.setdefault("name", name or f"{kwargs['node_nm']:g}nm")
        return cls(**kwargs)


def load_technology(spec: str | Mapping | Technology) -> Technology:
    """A Technology from a node name ("28nm"), a config mapping, or itself."""
    if isinstance(spec, Technology):
        return spec
    if isinstance(spec, str):
        return _load_named(spec)
    if isinstance(spec, Mapping):
        return Technology.from_mapping(spec)
    raise ConfigError(
        f"hardware.technology must be a node name or a mapping of node constants (got {spec!r})"
    )


@cache
def _load_named(name: str) -> Technology:
    import yaml  # local: only named lookups need the YAML parser

    nodes = known_nodes()
    require(name in nodes, "hardware.technology", f"must be one of {nodes}", name)
    data = yaml.safe_load((TECHNOLOGY_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return Technology.from_mapping(data, name)


# -------------------------------------------------------------------- fits


def fit_affine(points: Points) -> tuple[float, float]:
    """Least-squares line y = a0 + a1 x (exact through two points)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    a1 = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my - a1 * mx, a1


def fit_product(points: Points) -> tuple[float, float]:
    """(m0, m1) in y = m0 + m1 x^2 for b x b points (x = b): least-squares line in x^2,
    exact through two points; evaluated at x^2 = b_w * b_a."""
    return fit_affine(tuple((x * x, y) for x, y in points))


def _spread_rows(value: object) -> tuple[tuple[str, float, float], ...]:
    """``spread`` from a mapping {group: [low, high]} or rows [group, low, high]."""
    try:
        if isinstance(value, Mapping):
            return tuple((str(k), float(v[0]), float(v[1])) for k, v in value.items())
        return tuple((str(r[0]), float(r[1]), float(r[2])) for r in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, IndexError, KeyError):
        raise ConfigError(
            f"hardware.technology.spread must map groups to [low, high] (got {value!r})"
        ) from None


def _check_sram_table(table: Sequence, where: str) -> None:
    require(len(table) >= 2, where, "needs at least 2 rows [KB, read pJ, write pJ, mm2]", table)
    for row in table:
        require(
            len(row) == 4 and all(v > 0 for v in row),
            where,
            "rows must be 4 positive numbers [KB, read pJ, write pJ, mm2]",
            row,
        )
    require(len({row[0] for row in table}) == len(table), where, "capacities must differ", table)


def _check_points(points: Sequence, where: str, minimum: int) -> None:
    require(len(points) >= minimum, where, f"needs at least {minimum} [x, y] points", points)
    for x, y in points:
        require(x > 0 and y > 0, where, "points must be positive", points)
    if minimum >= 2:
        require(len({x for x, _ in points}) >= 2, where, "needs two distinct x values", points)
