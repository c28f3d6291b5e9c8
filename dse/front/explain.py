"""Why each design point of a sweep is where it is: on the front, dominated (by which
trial, by how much) or infeasible (which constraint, by how much).

:func:`explain` reads a :class:`~dse.front.render.FrontSummary` (its points carry their
Pareto flags) and returns one :class:`Explanation` per point; :func:`explanation_tags`
turns them into the tags the front's writer (:mod:`dse.front.store`) puts on each child
run, its one-sentence description included. Pure functions: no MLflow here.

"Dominates it most": of the front points that dominate a point, the one whose smallest
margin, each objective's margin divided by that objective's span over the feasible
points, is largest (then the largest sum of those margins; then the earliest trial). It
is always a front point: whatever dominates the chosen one would have larger margins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dse.front.render import FrontSummary, TrialPoint, round_sig
from dse.front.search import Constraint, Objective

Verdict = Literal["front", "dominated", "infeasible", "unranked"]

# Tags on each child run (rewritten when they change, at the recordings with plots).
TAG_WHY = "dse.why"  # front | dominated | infeasible | unranked
TAG_EXPLANATION = "dse.explanation"  # the sentence, plain text
TAG_DOMINATED_BY = "dse.dominated_by"  # run id of the trial that dominates it most
TAG_DOMINATED_BY_TRIAL = "dse.dominated_by_trial"  # its name ("trial 44")
TAG_MARGIN = "dse.margin."  # + objective: how much better the dominator is (>= 0, its units)
TAG_VIOLATES = "dse.violates"  # the violated constraints, "; "-separated
TAG_VIOLATION = "dse.violation."  # + metric: how far past its bound (> 0, its units)
NOTE_TAG = "mlflow.note.content"  # the run's description in MLflow's UI (Markdown)


@dataclass(frozen=True)
class Explanation:
    """Where one design point stands, and why."""

    run_id: str
    verdict: Verdict
    sentence: str  # plain text, one sentence
    note: str  # the same sentence as Markdown, the dominator linked to its run
    dominated_by: TrialPoint | None = None
    margins: dict[str, float] = field(default_factory=dict)  # objective -> margin (>= 0)
    violations: dict[str, float] = field(default_factory=dict)  # constraint text -> excess

    def tags(self) -> dict[str, str]:
        """The tags of :data:`TAG_WHY` and its siblings for this point."""
        out = {TAG_WHY: self.verdict, TAG_EXPLANATION: self.sentence[:5000], NOTE_TAG: self.note}
        if self.dominated_by is not None:
            out[TAG_DOMINATED_BY] = self.dominated_by.run_id
            out[TAG_DOMINATED_BY_TRIAL] = self.dominated_by.name
        out.update({TAG_MARGIN + k: repr(v) for k, v in self.margins.items()})
        if self.violations:
            out[TAG_VIOLATES] = "; ".join(self.violations)
        for text, excess in self.violations.items():
            out[TAG_VIOLATION + text.split(" ", 1)[0]] = repr(excess)
        return out


def margins(better: TrialPoint, point: TrialPoint, objectives: Sequence[Objective]) -> list[float]:
    """How much better ``better`` is than ``point`` per objective, in the metric's units
    (negative where it is worse)."""
    out = []
    for o in objectives:
        diff = better.metrics[o.metric] - point.metrics[o.metric]
        out.append(diff if o.direction == "maximize" else -diff)
    return out


def dominates(a: TrialPoint, b: TrialPoint, objectives: Sequence[Objective]) -> bool:
    """``a`` is at least as good as ``b`` in every objective and better in one."""
    m = margins(a, b, objectives)
    return all(x >= 0 for x in m) and any(x > 0 for x in m)


def _spans(points: Sequence[TrialPoint], objectives: Sequence[Objective]) -> list[float]:
    """Each objective's range over ``points`` (1 where it is 0: no scale to divide by)."""
    out = []
    for o in objectives:
        values = [p.metrics[o.metric] for p in points if math.isfinite(p.metrics[o.metric])]
        span = (max(values) - min(values)) if values else 0.0
        out.append(span if span > 0 else 1.0)
    return out


def strongest_dominator(
    point: TrialPoint,
    front: Sequence[TrialPoint],
    objectives: Sequence[Objective],
    spans: Sequence[float],
) -> TrialPoint | None:
    """The front point that dominates ``point`` most (module docstring), None if none does."""
    best, best_key = None, None
    for q in front:
        if q.run_id == point.run_id or not dominates(q, point, objectives):
            continue
        scaled = [m / s for m, s in zip(margins(q, point, objectives), spans, strict=True)]
        key = (min(scaled), sum(scaled), -(q.trial if q.trial is not None else math.inf))
        if best_key is None or key > best_key:
            best, best_key = q, key
    return best


def _violations(point: TrialPoint, constraints: Sequence[Constraint]) -> dict[str, float]:
    """Constraint text -> how far the point is past its bound (inf: metric missing or NaN)."""
    out = {}
    for c in constraints:
        excess = c.violation(point.metrics) if c.metric in point.metrics else math.inf
        if excess > 0:
            out[str(c)] = excess
    return out


def _margin_text(o: Objective, margin: float, dominator: float, value: float) -> str:
    if margin == 0:
        return f"the same {o.metric}"
    word = "higher" if o.direction == "maximize" else "lower"
    text = f"{o.metric} {round_sig(margin, 3)} {word} ({round_sig(dominator)} vs {round_sig(value)}"
    if value != 0 and o.direction == "minimize":
        text += f", {round_sig(100 * margin / abs(value), 3)} % less"
    return text + ")"


def explain(summary: FrontSummary, link_base: str | None = "#") -> dict[str, Explanation]:
    """run id -> :class:`Explanation` for every point of ``summary`` (``link_base`` as in
    :meth:`FrontSummary.run_link`: the dominator is linked to its run in the note)."""
    objectives, constraints = summary.objectives, summary.constraints
    front = [p for p in summary.points if p.pareto]
    spans = _spans([p for p in summary.points if p.feasible], objectives)
    out: dict[str, Explanation] = {}
    for p in summary.points:
        if p.pareto:
            text = (
                "On the Pareto front: no feasible design point is at least as good in every "
                "objective (" + ", ".join(o.metric for o in objectives) + ") and better in one."
            )
            out[p.run_id] = Explanation(p.run_id, "front", text, text)
            continue
        if not p.feasible:
            violations = _violations(p, constraints)
            parts = [
                f"{text} by {round_sig(excess, 4)} ({_metric_value(p, text)})"
                for text, excess in violations.items()
            ]
            text = "Infeasible: violates " + "; ".join(parts or ["a constraint"]) + "."
            out[p.run_id] = Explanation(p.run_id, "infeasible", text, text, violations=violations)
            continue
        q = strongest_dominator(p, front, objectives, spans)
        if q is None:  # a NaN objective: pareto_mask ranks no such point
            bad = [o.metric for o in objectives if not math.isfinite(p.metrics[o.metric])]
            text = f"Not ranked: {', '.join(bad) or 'an objective'} is not a finite number."
            out[p.run_id] = Explanation(p.run_id, "unranked", text, text)
            continue
        m = margins(q, p, objectives)
        parts = [
            _margin_text(o, mi, q.metrics[o.metric], p.metrics[o.metric])
            for o, mi in zip(objectives, m, strict=True)
        ]
        who = f"{q.name} ({summary.label(q)})" if summary.label(q) != q.name else q.name
        tail = ": " + ", ".join(parts) + "."
        sentence = f"Dominated by {who}{tail}"
        note = f"Dominated by {summary.run_link(q, link_base, who)}{tail}"
        by_metric = {o.metric: mi for o, mi in zip(objectives, m, strict=True)}
        out[p.run_id] = Explanation(p.run_id, "dominated", sentence, note, q, by_metric)
    return out


def _metric_value(point: TrialPoint, constraint_text: str) -> str:
    metric = constraint_text.split(" ", 1)[0]
    value = point.metrics.get(metric)
    return f"{metric} is {round_sig(value)}" if value is not None else f"no {metric} recorded"


def explanation_tags(
    summary: FrontSummary, link_base: str | None = "#"
) -> dict[str, dict[str, str]]:
    """run id -> the tags that explain its point (:meth:`Explanation.tags`)."""
    return {run_id: e.tags() for run_id, e in explain(summary, link_base).items()}


def changed(
    wanted: Mapping[str, Mapping[str, str]], written: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Of ``wanted`` (run id -> tags), the runs whose tags differ from ``written``."""
    return {k: dict(v) for k, v in wanted.items() if written.get(k) != v}


__all__ = [
    "NOTE_TAG",
    "TAG_DOMINATED_BY",
    "TAG_DOMINATED_BY_TRIAL",
    "TAG_EXPLANATION",
    "TAG_MARGIN",
    "TAG_VIOLATES",
    "TAG_VIOLATION",
    "TAG_WHY",
    "Explanation",
    "changed",
    "dominates",
    "explain",
    "explanation_tags",
    "margins",
    "strongest_dominator",
]
