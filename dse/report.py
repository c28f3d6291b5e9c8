"""What a person reads: the terminal summary and the hardware-breakdown artifacts."""

from __future__ import annotations

import csv
from pathlib import Path

from dse.interfaces import HardwareReport

COMPONENTS = ("compute_uj", "sram_uj", "dram_uj", "leakage_uj")


def _pp(value: float) -> str:
    """Percentage points with a sign; no "-0.00" for a loss that rounds to zero."""
    return f"{round(value, 2) + 0.0:+.2f}"


def summary(
    choices: dict[str, str],
    metrics: dict[str, float],
    cache_use: dict[str, str],
    recorded: str,
) -> str:
    chain = " / ".join(
        choices.get(g, "?")
        for g in ("dataset", "model", "training", "quantizer", "coding", "hardware")
    )
    m = metrics
    lines = [
        f"design point  {chain}",
        "  accuracy    split   ANN        SNN        conversion loss",
        f"              val     {m['val_ann_accuracy']:6.2f} %   {m['val_snn_accuracy']:6.2f} %   {_pp(m['val_conversion_loss'])} pp",
        f"              test    {m['test_ann_accuracy']:6.2f} %   {m['test_snn_accuracy']:6.2f} %   {_pp(m['test_conversion_loss'])} pp",
        f"  hardware    energy {m['energy_uj']:.4g} uJ   latency {m['latency_ms']:.4g} ms   "
        f"area {m['area_mm2']:.4g} mm2   PE utilisation {100 * m['pe_utilization']:.0f} %",
        f"  activity    {m['spikes_per_inference']:.4g} spikes and {m['synops_per_inference']:.4g} "
        f"synaptic ops per inference ({m['pj_per_synop']:.3g} pJ/SOP all-in)",
        "  cache       " + ", ".join(f"{stage}: {use}" for stage, use in cache_use.items()),
        f"  recorded    {recorded}",
    ]
    return "\n".join(lines)


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


def plot_breakdown(report: HardwareReport, path: Path, title: str) -> Path:
    """Stacked bars of energy per layer and component (PNG renders inline in MLflow).

    Drawn with a bare Agg canvas, fixed margins and a fixed legend place: every design
    point of a sweep draws one, so the chart must cost milliseconds, not a layout search.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [layer.name for layer in report.layers]
    fig = Figure(figsize=(max(6.0, 0.45 * len(names) + 2), 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.2)
    bottom = [0.0] * len(names)
    for component in COMPONENTS:
        values = [getattr(layer.energy, component) for layer in report.layers]
        label = component.removesuffix("_uj").replace("sram", "on-chip SRAM")
        ax.bar(names, values, bottom=bottom, label=label.replace("dram", "off-chip DRAM"))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("energy per inference (uJ)")
    ax.set_title(
        f"{title}: {report.energy_uj:.4g} uJ, {report.latency_ms:.4g} ms, {report.area_mm2:.3g} mm2"
    )
    ax.tick_params(axis="x", rotation=45)
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=90)
    return path
