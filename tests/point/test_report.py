"""The per-run hardware breakdown chart: an SVG that must draw what the report says."""

from __future__ import annotations

import dataclasses
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dse.api.architecture import static_workload
from dse.api.interfaces import EnergyBreakdown, HardwareReport
from dse.builtin.hardware import TTFSProcessor
from dse.builtin.models.vgg16 import VGG16
from dse.cli.estimate import DEFAULT_SPIKE_RATE, assumed_activity
from dse.point.report import COMPONENTS, _nice_ticks, summary, write_breakdown_svg
from dse.testing import example_workload

SVG = "{http://www.w3.org/2000/svg}"
LEGEND_LABELS = {
    "compute_uj": "compute",
    "sram_uj": "on-chip SRAM",
    "dram_uj": "off-chip DRAM",
    "leakage_uj": "leakage",
}


@pytest.fixture(scope="module")
def vgg16_report() -> HardwareReport:
    """VGG-16 on CIFAR-sized inputs: 20 layers, DRAM-bound late layers, near-empty pools."""
    static = static_workload(
        VGG16().build((3, 32, 32), 10),
        weight_bits=5,
        weight_format="log",
        coding="ttfs_log",
        time_window=8,
        accumulator_bits=16,
    )
    return TTFSProcessor().estimate(assumed_activity(static, DEFAULT_SPIKE_RATE))


@pytest.fixture(scope="module")
def small_report() -> HardwareReport:
    """The contract workload: its weights fit on chip, so no DRAM energy at all."""
    return TTFSProcessor().estimate(example_workload())


def draw(report: HardwareReport, tmp_path: Path, title: str = "ttfs_processor") -> ET.Element:
    path = write_breakdown_svg(report, tmp_path / "hardware_breakdown.svg", title)
    assert path.name == "hardware_breakdown.svg"
    return ET.parse(path).getroot()


def stacks(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "stack"]


def bars(stack: ET.Element) -> list[ET.Element]:
    return [r for r in stack.iter(f"{SVG}rect") if r.get("class") in COMPONENTS]


def axis(root: ET.Element) -> tuple[list[float], float, float]:
    """(tick values, y of tick 0, px per uJ) read back from the drawn y axis."""
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "y-axis")
    grid = [float(line.get("y1")) for line in group.iter(f"{SVG}line")]
    ticks = [float(t.text) for t in group.iter(f"{SVG}text") if t.text[0].isdigit()]
    assert len(grid) == len(ticks), "one gridline per tick"
    return ticks, grid[0], (grid[0] - grid[-1]) / ticks[-1]


def legend(root: ET.Element) -> set[str]:
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    return {t.text for t in group.iter(f"{SVG}text")}


def test_svg_is_a_sized_document_and_deterministic(vgg16_report, tmp_path):
    root = draw(vgg16_report, tmp_path)
    assert root.tag == f"{SVG}svg"
    width, height = int(root.get("width")), int(root.get("height"))
    assert root.get("viewBox") == f"0 0 {width} {height}"
    first = (tmp_path / "hardware_breakdown.svg").read_bytes()
    (tmp_path / "again").mkdir()
    second = write_breakdown_svg(vgg16_report, tmp_path / "again" / "x.svg", "ttfs_processor")
    assert second.read_bytes() == first


def test_one_stack_per_layer_in_layer_order(vgg16_report, tmp_path):
    root = draw(vgg16_report, tmp_path)
    drawn = stacks(root)
    assert [g.get("data-layer") for g in drawn] == [layer.name for layer in vgg16_report.layers]
    labels = [next(g.iter(f"{SVG}text")).text for g in drawn]
    assert labels == [layer.name for layer in vgg16_report.layers]
    lefts = [float(bars(g)[0].get("x")) for g in drawn]
    assert lefts == sorted(lefts) and len(set(lefts)) == len(lefts)
    width = float(root.get("width"))
    assert all(float(r.get("x")) + float(r.get("width")) <= width for g in drawn for r in bars(g))


def test_stack_heights_are_proportional_to_layer_energy(vgg16_report, tmp_path):
    root = draw(vgg16_report, tmp_path)
    ticks, base, px_per_uj = axis(root)
    tolerance = 0.03 / px_per_uj  # boundaries are written to 0.01 px
    heights = []
    for layer, stack in zip(vgg16_report.layers, stacks(root), strict=True):
        drawn = bars(stack)
        bottom = base
        for rect, component in zip(
            drawn, [c for c in COMPONENTS if getattr(layer.energy, c) > 0], strict=True
        ):
            assert rect.get("class") == component
            top, height = float(rect.get("y")), float(rect.get("height"))
            assert top + height == pytest.approx(bottom, abs=0.011), "segments touch"
            assert height / px_per_uj == pytest.approx(
                getattr(layer.energy, component), abs=tolerance
            )
            bottom = top
        heights.append(base - bottom)
        assert heights[-1] / px_per_uj == pytest.approx(layer.energy.total_uj, abs=tolerance)
    totals = [layer.energy.total_uj for layer in vgg16_report.layers]
    assert totals[heights.index(max(heights))] == max(totals)
    assert ticks[-1] >= max(totals)


def test_legend_names_each_drawn_component_and_zero_components_draw_nothing(
    vgg16_report, small_report, tmp_path
):
    assert vgg16_report.breakdown.dram_uj > 0 and small_report.breakdown.dram_uj == 0
    for report, name in ((vgg16_report, "vgg"), (small_report, "small")):
        (tmp_path / name).mkdir()
        root = draw(report, tmp_path / name)
        used = {c for c in COMPONENTS if getattr(report.breakdown, c) > 0}
        assert legend(root) == {LEGEND_LABELS[c] for c in used}
        for layer, stack in zip(report.layers, stacks(root), strict=True):
            nonzero = [c for c in COMPONENTS if getattr(layer.energy, c) > 0]
            assert [r.get("class") for r in bars(stack)] == nonzero
    assert legend(root) == {"compute", "on-chip SRAM", "leakage"}


def test_title_states_energy_latency_and_area(small_report, tmp_path):
    root = draw(small_report, tmp_path)
    title = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "title").text
    r = small_report
    assert title == (
        f"ttfs_processor: {r.energy_uj:.4g} uJ, {r.latency_ms:.4g} ms, {r.area_mm2:.3g} mm2"
    )


def test_markup_in_names_is_escaped(small_report, tmp_path):
    odd = "conv<1> & \"x\" 'y'"
    report = dataclasses.replace(
        small_report,
        layers=(dataclasses.replace(small_report.layers[0], name=odd), *small_report.layers[1:]),
    )
    root = draw(report, tmp_path, title="a<b & c>")
    first = stacks(root)[0]
    assert first.get("data-layer") == odd
    assert next(first.iter(f"{SVG}text")).text == odd
    title = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "title").text
    assert title.startswith("a<b & c>: ")


def test_all_zero_report_still_draws_axes_and_labels(small_report, tmp_path):
    zero = dataclasses.replace(
        small_report,
        energy_uj=0.0,
        breakdown=EnergyBreakdown(),
        layers=tuple(
            dataclasses.replace(layer, energy=EnergyBreakdown()) for layer in small_report.layers
        ),
    )
    root = draw(zero, tmp_path)
    assert len(stacks(root)) == len(zero.layers)
    assert all(bars(g) == [] for g in stacks(root))
    assert legend(root) == set()
    ticks, _, px_per_uj = axis(root)
    assert ticks[0] == 0 and ticks[-1] > 0 and math.isfinite(px_per_uj)


# 1.0000000000000001e-07 / 2e-08 rounds down to exactly 5.0: a tick count the float
# division alone gets wrong.
@pytest.mark.parametrize(
    "largest",
    [3e-7, 1.0000000000000001e-07, 0.0175, 0.2, 1.0, 4.99, 5.0, 5.01, 240.0, 1539.8, 7e6],
)
def test_ticks_are_nice_and_cover_the_largest_value(largest):
    ticks = _nice_ticks(largest)
    step = ticks[1]
    assert ticks[0] == 0 and ticks[-1] >= largest > ticks[-2]
    assert 2 <= len(ticks) - 1 <= 6  # at most five steps, one more where the float rounds
    assert ticks == pytest.approx([k * step for k in range(len(ticks))])
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9


def test_summary_lists_what_differs_from_the_named_configs() -> None:
    metrics = {
        f"{split}{name}": 1.0
        for split in ("", "val_", "test_")
        for name in ("ann_accuracy", "snn_accuracy", "conversion_loss")
    }
    metrics.update(
        energy_uj=1.0, latency_ms=1.0, area_mm2=1.0, pe_utilization=0.5, pj_per_synop=1.0
    )
    metrics.update(spikes_per_inference=1.0, synops_per_inference=1.0)
    choices = {"model": "fashion_cnn*", "coding": "rate T=8"}
    changed = ["model.pool_after=[2,4]", "model.batch_norm=false"] + ["training.lr=0.0003"] * 6
    lines = summary(choices, metrics, {}, "nowhere", changed).splitlines()
    assert lines[0].startswith("design point  ? / fashion_cnn* / ? / ? / rate T=8")
    assert lines[1].startswith("  changed     model.pool_after=[2,4] model.batch_norm=false ")
    block = lines[1 : next(i for i, line in enumerate(lines) if "accuracy" in line)]
    assert len(block) > 1 and all(line.startswith(" " * 14) for line in block[1:])
    assert all(len(line) <= 90 for line in block)  # wrapped, never cut
    assert " ".join(" ".join(block).split()[1:]) == " ".join(changed)
    assert "changed" not in summary(choices, metrics, {}, "nowhere")
