"""What a person reads: the terminal summary and the hardware-breakdown artifacts."""

from __future__ import annotations

import csv
import html
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

from dse.api.interfaces import PLUGIN_GROUPS, HardwareReport

COMPONENTS = ("compute_uj", "sram_uj", "dram_uj", "leakage_uj")


def _pp(value: float) -> str:
    """Percentage points with a sign; no "-0.00" for a loss that rounds to zero."""
    return f"{round(value, 2) + 0.0:+.2f}"


def summary(
    choices: dict[str, str],
    metrics: dict[str, float],
    cache_use: dict[str, str],
    recorded: str,
    changed: Sequence[str] = (),
) -> str:
    """The terminal summary of one design point. ``changed``: the overrides by which its
    plugin configs differ from the named ones (``model.pool_after=[2,4]``), listed under
    the chain, whose names carry a ``*`` for them."""
    chain = " / ".join(choices.get(g, "?") for g in PLUGIN_GROUPS)
    m = metrics
    lines = [
        f"design point  {chain}",
        *_changed_lines(changed),
        "  accuracy    split   ANN        SNN        conversion loss",
        *_accuracy_lines(m),
        *_dram_line(m),
        f"  hardware    energy {m['energy_uj']:.4g} uJ{_band(m)}   latency {m['latency_ms']:.4g} ms   "
        f"area {m['area_mm2']:.4g} mm2   PE utilisation {100 * m['pe_utilization']:.0f} %",
        f"  activity    {m['spikes_per_inference']:.4g} spikes and {m['synops_per_inference']:.4g} "
        f"synaptic ops per inference ({m['pj_per_synop']:.3g} pJ/SOP all-in)",
        *_accumulator_line(m),
        "  cache       " + ", ".join(f"{stage}: {use}" for stage, use in cache_use.items()),
        f"  recorded    {recorded}",
    ]
    return "\n".join(lines)


def _accuracy_lines(m: dict[str, float]) -> list[str]:
    """One line per measured split (a low-fidelity point measures val only)."""
    lines = []
    for split in ("val", "test"):
        if f"{split}_ann_accuracy" not in m:
            lines.append(
                f"              {split:<7} not simulated at low fidelity (training.stop_epoch)"
            )
            continue
        lines.append(
            f"              {split:<7} {m[f'{split}_ann_accuracy']:6.2f} %   "
            f"{m[f'{split}_snn_accuracy']:6.2f} %   {_pp(m[f'{split}_conversion_loss'])} pp"
        )
    return lines


def _changed_lines(changed: Sequence[str]) -> list[str]:
    """``  changed     model.pool_after=[2,4] model.batch_norm=false``, wrapped."""
    if not changed:
        return []
    text = textwrap.wrap(" ".join(changed), 76, break_long_words=False, break_on_hyphens=False)
    return [f"  {'changed' if i == 0 else '':<12}{line}" for i, line in enumerate(text)]


def _band(m: dict[str, float]) -> str:
    """`` (band 0.61-1.4, calibrated x2.3)``: the energy band and a calibration, when set."""
    out = ""
    if "energy_uj_low" in m and m["energy_uj_high"] > m["energy_uj_low"]:
        out += f" (band {m['energy_uj_low']:.3g}-{m['energy_uj_high']:.3g})"
    if m.get("calibration", 1.0) != 1.0:
        out += f" (calibrated x{m['calibration']:.3g})"
    return out


def _dram_line(m: dict[str, float]) -> list[str]:
    """First, when most of the energy is off-chip traffic: say so before anything else."""
    dram, energy = m.get("dram_uj", 0.0), m["energy_uj"]
    if energy <= 0 or dram < 0.5 * energy:
        return []
    return [
        f"  NOTE        {100 * dram / energy:.0f} % of the energy ({dram:.4g} uJ) is DRAM traffic: "
        "the weights (or maps) do not fit on chip; a larger hardware.weight_sram_kb keeps them"
    ]


def _accumulator_line(m: dict[str, float]) -> list[str]:
    """What the SNN's fixed-point accumulator lost, when the coding measured it."""
    if "val_truncated_products" not in m:
        return []
    lost = {
        split: (m[f"{split}_truncated_products"], m[f"{split}_saturated_neurons"])
        for split in ("val", "test")
        if f"{split}_truncated_products" in m
    }
    if not any(t or s for t, s in lost.values()):
        splits = ", ".join(lost)
        return [f"  accumulator exact: no product truncated, no neuron saturated ({splits})"]
    t, s = lost["val"]
    share = 100 * t / m["val_synops_per_inference"] if m["val_synops_per_inference"] else 0.0
    return [
        f"  accumulator truncates {t:.4g} products ({share:.3g} % of synaptic ops) and "
        f"saturates {s:.4g} neurons per inference (val)"
    ]


def write_breakdown_csv(report: HardwareReport, path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["layer", *COMPONENTS, "total_uj", "cycles", "latency_ms", "pe_utilization", "synops"]
        )
        for layer in report.layers:
            e = layer.energy
            writer.writerow(
                [
                    layer.name,
                    *(getattr(e, c) for c in COMPONENTS),
                    e.total_uj,
                    layer.cycles,
                    layer.latency_ms,
                    layer.pe_utilization,
                    layer.synops,
                ]
            )
        b = report.breakdown
        writer.writerow(
            [
                "total",
                *(getattr(b, c) for c in COMPONENTS),
                b.total_uj,
                report.cycles,
                report.latency_ms,
                report.pe_utilization,
                sum(layer.synops for layer in report.layers),
            ]
        )
    return path


# Readable legend labels and matplotlib's default colours, fixed per component so
# charts of different design points compare at a glance.
_LABELS = {
    "compute_uj": "compute",
    "sram_uj": "on-chip SRAM",
    "dram_uj": "off-chip DRAM",
    "leakage_uj": "leakage",
}
_COLOURS = {
    "compute_uj": "#1f77b4",
    "sram_uj": "#ff7f0e",
    "dram_uj": "#2ca02c",
    "leakage_uj": "#d62728",
}


def _nice_ticks(largest: float) -> list[float]:
    """Ticks from 0 in steps of 1, 2 or 5 x 10^k, about five, the last >= ``largest`` > 0."""
    rough = largest / 5
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    count = math.ceil(largest / step)
    if count * step < largest:  # the division rounded down
        count += 1
    return [k * step for k in range(count + 1)]


def write_breakdown_svg(report: HardwareReport, path: Path, title: str) -> Path:
    """Stacked bars of energy per layer and component, as SVG (MLflow shows it inline).

    Every design point of a sweep draws one, so it is plain string building with a fixed
    layout (sizes follow from the layer count and name lengths, legend right of the
    plot): well under a millisecond, where matplotlib took ~0.1 s plus its import.
    """
    esc = html.escape
    layers = report.layers
    totals = [layer.energy.total_uj for layer in layers]
    ticks = _nice_ticks(max(totals, default=0.0) or 1.0)
    shown = [c for c in COMPONENTS if any(getattr(x.energy, c) > 0 for x in layers)]

    # Layout in px; text widths estimated at 6.5 px per character of 11 px sans-serif.
    slot = max(28.0, 240.0 / max(len(layers), 1))
    left, top, plot_w, plot_h = 70.0, 40.0, slot * len(layers) or slot, 240.0
    label_drop = 0.71 * 6.5 * max((len(x.name) for x in layers), default=0)  # at 45 deg
    legend_x = left + plot_w + 20
    heading = (
        f"{title}: {report.energy_uj:.4g} uJ, {report.latency_ms:.4g} ms, {report.area_mm2:.3g} mm2"
    )
    width = math.ceil(max(legend_x + 120, 7.5 * len(heading) + 20))
    height = math.ceil(top + plot_h + label_drop + 24)
    base = top + plot_h
    scale = plot_h / ticks[-1]

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" '
        'font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text class="title" x="{width / 2:.1f}" y="22" text-anchor="middle" '
        f'font-size="13">{esc(heading)}</text>',
        '<g class="y-axis">',
    ]
    for tick in ticks:
        y = base - tick * scale
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.2f}" y2="{y:.2f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.2f}" text-anchor="end">{tick:g}</text>'
        )
    out.append(
        f'<text x="16" y="{base - plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {base - plot_h / 2:.1f})">energy per inference (uJ)</text>'
    )
    out.append("</g>")

    bar_w = 0.65 * slot
    for i, layer in enumerate(layers):
        x, name = left + i * slot + (slot - bar_w) / 2, esc(layer.name)
        out.append(f'<g class="stack" data-layer="{name}">')
        below = round(base, 2)
        cumulative = 0.0
        for component in COMPONENTS:
            value = getattr(layer.energy, component)
            if value <= 0:
                continue
            cumulative += value
            above = round(base - cumulative * scale, 2)
            out.append(
                f'<rect class="{component}" x="{x:.2f}" y="{above:.2f}" width="{bar_w:.2f}" '
                f'height="{below - above:.2f}" fill="{_COLOURS[component]}">'
                f"<title>{name} {_LABELS[component]}: {value:.4g} uJ</title></rect>"
            )
            below = above
        cx, ly = x + bar_w / 2, base + 12
        out.append(
            f'<text class="x-label" x="{cx:.2f}" y="{ly:.2f}" text-anchor="end" '
            f'transform="rotate(-45 {cx:.2f} {ly:.2f})">{name}</text></g>'
        )
    out.append(
        f'<path d="M{left} {top}V{base}H{left + plot_w}" fill="none" stroke="black"/>'
        '<g class="legend">'
    )
    for row, component in enumerate(shown):
        y = top + 18 * row
        out.append(
            f'<rect x="{legend_x}" y="{y}" width="12" height="12" fill="{_COLOURS[component]}"/>'
            f'<text x="{legend_x + 18}" y="{y + 10}">{_LABELS[component]}</text>'
        )
    out.append("</g></svg>\n")
    path.write_text("\n".join(out), encoding="utf-8")
    return path
