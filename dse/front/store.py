"""The record of a sweep's front on its MLflow parent run: Pareto and feasibility tags on
each child run, the hypervolume history and the front's files on the parent.

:class:`SweepFront` holds a sweep's child runs in memory and writes only what changed;
:func:`record_sweep_front` is its one-shot form. The math is :mod:`dse.front.pareto`, the
renderings :mod:`dse.front.render`. mlflow is imported inside the functions that need it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dse.api.errors import require
from dse.api.interfaces import PLUGIN_GROUPS
from dse.front.browse import describe_parent
from dse.front.explain import changed, explanation_tags
from dse.front.fidelity import FIDELITY_TAG, LOW
from dse.front.pareto import default_reference, hypervolume, pareto_mask
from dse.front.render import (
    FrontSummary,
    TrialPoint,
    hypervolume_reference_text,
    write_front_files,
)
from dse.front.search import Constraint, Objective, is_feasible, violations

if TYPE_CHECKING:
    import mlflow
    from mlflow.entities import Run

# Tags and names shared with the sweeper and the tracking callback.
TAG_PARETO = "dse.pareto_optimal"
TAG_FEASIBLE = "dse.feasible"
TAG_TRIAL = "optuna_trial"  # set through ``+tracking.tags.optuna_trial=N`` by the sweeper
REFERENCE_PARAM = "hypervolume_reference."
# The sweep's reference is fixed from its first trials, so it is pushed out by a whole range
# (or |worst|): later, worse-than-first trials can still count. E.g. a first point at 90 %,
# 40 uJ gives the reference (0 %, 80 uJ).
REFERENCE_MARGIN = 1.0


def child_runs(
    client: mlflow.MlflowClient,
    parent_run_id: str,
    experiment_id: str | None = None,
    where: str = "",
) -> list[Run]:
    """Every child run of a parent (tag ``mlflow.parentRunId``), optionally narrowed by an
    MLflow filter (``where``: ``attributes.status = 'RUNNING'``): the one query for a
    parent's children, read in pages of 1000 until the store has no more.
    ``experiment_id``: the parent's, when the caller knows it (else one read)."""
    if experiment_id is None:
        experiment_id = client.get_run(parent_run_id).info.experiment_id
    query = f"tags.mlflow.parentRunId = '{parent_run_id}'" + (f" and {where}" if where else "")
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=query, max_results=1000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


# Flattened config keys that never describe the design (bookkeeping of the run itself).
_NOT_DESIGN = ("tracking.", "paths.", "cache.", "search.", "hydra.")


def _design_params(differing: Iterable[str]) -> list[str]:
    """Of the params that differ across the children, those the sweep varied (the design)."""
    return sorted(
        k for k in differing if not k.startswith(_NOT_DESIGN) and not k.endswith("._target_")
    )


def _trial_point(run: Run, constraints: Sequence[Constraint]) -> TrialPoint:
    """A FINISHED child run with every objective metric, as the front sees it."""
    m = run.data.metrics
    feasible = is_feasible(violations(constraints, m))  # a missing metric: infeasible
    tag = run.data.tags.get(TAG_TRIAL, "")
    trial = int(tag) if tag.isdigit() else None
    name = f"trial {trial}" if trial is not None else (run.info.run_name or run.info.run_id)
    # The plugin choices (tags dse.<group>) read better than their classes' _target_.
    params = dict(run.data.params)
    params.update(
        {g: run.data.tags[f"dse.{g}"] for g in PLUGIN_GROUPS if run.data.tags.get(f"dse.{g}")}
    )
    return TrialPoint(run.info.run_id, name, trial, params, dict(m), feasible)


class SweepFront:
    """A sweep's front kept in memory, so recording it after a batch reads only that batch.

    Re-reading every child run after each batch makes a sweep's bookkeeping O(n^2) in MLflow
    round trips. This reads the existing children once (:meth:`load`, which is also how a
    resumed sweep continues), is then told about new children (:meth:`add`,
    :meth:`add_runs`), and remembers what it wrote to MLflow (tags, reference, last
    hypervolume step), so :meth:`record` writes only what changed. The rules are those of
    :func:`record_sweep_front`, its one-shot form. Children it is not told about after
    :meth:`load` (e.g. runs another process adds) are not counted.
    """

    def __init__(
        self,
        client: mlflow.MlflowClient,
        parent: Run,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        reference: Mapping[str, float] | None = None,
        last_step: int | None = None,
    ) -> None:
        """Use :meth:`load`: ``parent`` and ``last_step`` are what it read from MLflow."""
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        require(len(self.objectives) >= 1, "search.objectives", "must name at least one metric", [])
        self.parent_run_id: str = parent.info.run_id
        self.experiment_id: str = parent.info.experiment_id
        self._client = client
        self._metrics = [o.metric for o in self.objectives]
        self._directions = [o.direction for o in self.objectives]
        self._requested_reference = reference
        # Reference params already on the parent: MLflow params cannot be rewritten.
        self._stored = {
            k[len(REFERENCE_PARAM) :]: float(v)
            for k, v in parent.data.params.items()
            if k.startswith(REFERENCE_PARAM)
        }
        self.reference: dict[str, float] | None = None
        if all(k in self._stored for k in self._metrics):
            self.reference = {k: self._stored[k] for k in self._metrics}
        self._last_step = last_step
        self._children: set[str] = set()
        self._failed = 0
        self._points: list[TrialPoint] = []
        self._front: list[TrialPoint] = []  # as of the last record()
        self._new: list[TrialPoint] = []  # added since
        self._new_elsewhere: list[TrialPoint] = []  # added since, counted by another writer
        self._new_bulk: list[TrialPoint] = []  # read by load(), not in the parent's history
        self._held: dict[str, set[str]] = {}  # run id -> its tag keys, for runs read from MLflow
        self._differing: set[str] = set()  # params whose value is not the same in all points
        self.reference_design: tuple[str, dict[str, str]] | None = None  # marked on the plot
        self._written: dict[str, dict[str, str]] = {}  # run id -> front tags as in MLflow
        self._pending: dict[str, dict[str, str]] = {}  # run id -> tags record() writes
        self._explained: dict[str, dict[str, str]] = {}  # run id -> why-tags as written

    @classmethod
    def load(
        cls,
        client: mlflow.MlflowClient,
        parent_run_id: str,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        reference: Mapping[str, float] | None = None,
    ) -> SweepFront:
        """Read the parent run, its hypervolume history and all its children (once)."""
        parent = client.get_run(parent_run_id)
        history = client.get_metric_history(parent_run_id, "hypervolume")
        last_step = max((h.step for h in history), default=None)
        front = cls(client, parent, objectives, constraints, reference, last_step)
        # in the order they started: the history's steps are prefixes of that order
        children = sorted(
            child_runs(client, parent_run_id, parent.info.experiment_id),
            key=lambda r: r.info.start_time or 0,
        )
        front.add_runs(children)
        front._settle_loaded()
        return front

    def refresh(self) -> None:
        """Catch up with another worker that records the same parent: the reference it fixed
        and the last hypervolume step it wrote (read under the study's lock, dse.runtime.locks)."""
        parent = self._client.get_run(self.parent_run_id)
        for k, v in parent.data.params.items():
            if k.startswith(REFERENCE_PARAM) and k != REFERENCE_PARAM[:-1]:
                self._stored.setdefault(k[len(REFERENCE_PARAM) :], float(v))
        if all(k in self._stored for k in self._metrics):  # the stored one wins over ours
            self.reference = {k: self._stored[k] for k in self._metrics}
        history = self._client.get_metric_history(self.parent_run_id, "hypervolume")
        last = max((h.step for h in history), default=None)
        if last is not None and (self._last_step is None or last > self._last_step):
            self._last_step = last

    def known(self, run_id: str) -> bool:
        """Whether this front counts the child run ``run_id`` already."""
        return run_id in self._children

    def _values(self, points: Sequence[TrialPoint]) -> np.ndarray:
        """``(n, m)`` objective values of ``points``, ``(0, m)`` for none."""
        rows = [[p.metrics[k] for k in self._metrics] for p in points]
        return np.array(rows, dtype=float).reshape(len(points), len(self._metrics))

    def add(
        self, run_ids: Iterable[str], tags: Mapping[str, str] | None = None, elsewhere: bool = False
    ) -> None:
        """Count new child runs by id: one read each, so a batch costs O(batch) reads; an id
        the store does not hold is skipped.

        ``tags`` are written on these runs by the next :meth:`record`, in the same round trip
        as the front's own tags (known runs get them too). ``elsewhere``: another writer of
        the same parent counted these runs already (a worker's merge), so they come before
        this writer's own new points in the hypervolume history, whose steps then stay
        supersets of the steps that writer wrote.
        """
        from mlflow.exceptions import MlflowException

        for run_id in run_ids:
            if tags:
                self._pending.setdefault(run_id, {}).update(tags)
            if run_id in self._children:
                continue
            try:
                run = self._client.get_run(run_id)
            except MlflowException as err:  # e.g. a study's trial whose store was replaced
                if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                self._pending.pop(run_id, None)
                continue
            self.add_runs([run], elsewhere=elsewhere)

    def add_runs(
        self, runs: Iterable[Run], tags: Mapping[str, str] | None = None, elsewhere: bool = False
    ) -> None:
        """Count child runs already read (e.g. a search's results); known ones are skipped.

        FAILED runs count as failed; FINISHED runs with every objective metric are points;
        runs of another parent are ignored, and so are RUNNING ones (another worker's trial
        in flight), which count once they end and are read again. ``tags`` as in :meth:`add`.
        """
        for run in runs:
            run_id = run.info.run_id
            if tags:
                self._pending.setdefault(run_id, {}).update(tags)
            if (
                run_id in self._children
                or run.data.tags.get("mlflow.parentRunId") != self.parent_run_id
                or run.info.status == "RUNNING"
            ):
                continue
            self._children.add(run_id)
            self._held[run_id] = set(run.data.tags)
            if run.info.status == "FAILED":
                self._failed += 1
            m = run.data.metrics
            if run.info.status != "FINISHED" or any(k not in m for k in self._metrics):
                continue
            if run.data.tags.get(FIDELITY_TAG) == LOW:  # the front holds full fidelity only
                continue
            held = run.data.tags  # the front tags MLflow has: record() rewrites only changes
            written = {k: held[k] for k in (TAG_FEASIBLE, TAG_PARETO) if k in held}
            self._add_point(_trial_point(run, self.constraints), written, elsewhere)

    def tag_missing(self, tags: Mapping[str, Mapping[str, str]]) -> None:
        """Runs read from MLflow (a resumed sweep's, another worker's) that lack some of the
        given tags (run id -> tags) get them with the next :meth:`record`; e.g. the trial
        state a writer killed before its record could not write."""
        for run_id, wanted in tags.items():
            held = self._held.get(run_id)
            if held is None:
                continue
            missing = {k: v for k, v in wanted.items() if k not in held}
            if missing:
                self._pending.setdefault(run_id, {}).update(missing)
                held.update(missing)

    def add_result(
        self,
        run_id: str,
        metrics: Mapping[str, object],
        params: Mapping[str, str],
        *,
        feasible: bool,
        point: bool = True,
        trial: int | None = None,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Count a finished child run from what its job returned (its metrics, and its
        feasibility as the sweep computed it once) and the job's config (``params``, as the
        run's flattened params): nothing is read back from MLflow. A result without every
        objective metric, or not ``point`` (a low-fidelity design point,
        :mod:`dse.front.fidelity`, or one pre-screened before training), is counted, not a
        point. ``tags`` as in :meth:`add`."""
        if tags:
            self._pending.setdefault(run_id, {}).update(tags)
        if run_id in self._children:
            return
        self._children.add(run_id)
        values = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if not point or any(k not in values for k in self._metrics):
            return  # counted, not a point: no objective, or trained at low fidelity only
        label = name or (f"trial {trial}" if trial is not None else run_id)
        point = TrialPoint(run_id, label, trial, dict(params), values, feasible)
        self._add_point(point, {})  # a job writes no front tags: all to write

    def add_failure(self, run_id: str | None, tags: Mapping[str, str] | None = None) -> None:
        """Count a failed job; its child run (when it got one) gets ``tags``."""
        if run_id is not None:
            if tags:
                self._pending.setdefault(run_id, {}).update(tags)
            if run_id in self._children:
                return
            self._children.add(run_id)
        self._failed += 1

    def _add_point(
        self, point: TrialPoint, written: dict[str, str], elsewhere: bool = False
    ) -> None:
        # Comparing with any one point suffices: until a key differs, all points agree on it.
        first = self._points[0].params if self._points else point.params
        self._differing.update(
            k for k in first.keys() | point.params.keys() if first.get(k) != point.params.get(k)
        )
        self._points.append(point)
        (self._new_elsewhere if elsewhere else self._new).append(point)
        self._written[point.run_id] = written

    def record(self, artifacts: bool = True) -> FrontSummary:
        """Update the front in memory and write what changed (see :func:`record_sweep_front`)."""
        from mlflow.entities import Param, RunTag

        client, parent = self._client, self.parent_run_id
        self.fix_reference()
        # Points are only added, so a dominated point stays dominated: the front of all points
        # is that of the last front plus the new points (O(batch x front), not O(n^2)).
        history = self._history(self._new_bulk, [*self._new_elsewhere, *self._new])
        new = [*self._new_bulk, *self._new_elsewhere, *self._new]
        self._new, self._new_elsewhere, self._new_bulk = [], [], []
        candidates = [*self._front, *new]
        values = self._values(candidates)
        feasible = np.array([p.feasible for p in candidates], dtype=bool)
        mask = pareto_mask(values, self._directions, feasible)
        self._front = [p for p, on in zip(candidates, mask, strict=True) if on]

        # Tags: only what changed, one write per run (each is a round trip to the store); the
        # flags of points outside the candidates cannot change.
        writes, self._pending = self._pending, {}
        for p, on in zip(candidates, mask, strict=True):
            written = self._written[p.run_id]
            for key, val in ((TAG_FEASIBLE, p.feasible), (TAG_PARETO, on)):
                text = "true" if val else "false"
                if written.get(key) != text:
                    writes.setdefault(p.run_id, {})[key] = written[key] = text
        for run_id, tags in writes.items():
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

        missing = [
            Param(REFERENCE_PARAM + k, repr(v))
            for k, v in (self.reference or {}).items()
            if k not in self._stored
        ]
        if missing:  # one readable column beside the hypervolume: compare only equal ones
            missing.append(Param(REFERENCE_PARAM[:-1], hypervolume_reference_text(self.reference)))
            client.log_batch(parent, params=missing)
            self._stored = {**self.reference, **self._stored}
        hv = 0.0
        if self.reference is not None and mask.any():
            hv = hypervolume(
                values[mask], self._directions, [self.reference[k] for k in self._metrics]
            )

        self._points.sort(key=lambda p: (p.trial is None, p.trial or 0, p.name))
        on_front = {p.run_id for p in self._front}
        summary = FrontSummary(
            objectives=self.objectives,
            constraints=self.constraints,
            points=[replace(p, pareto=p.run_id in on_front) for p in self._points],
            varying_params=_design_params(self._differing),
            reference=None if self.reference is None else dict(self.reference),
            hypervolume=hv,
            n_children=len(self._children),
            failed=self._failed,
            experiment_id=self.experiment_id,
            reference_design=self.reference_design,
        )
        self._log_history(history)
        if artifacts:  # the plots are most of the cost: a sweeper's intermediate batches skip them
            _log_front_artifacts(client, parent, summary)
            self._explain(summary)
        return summary

    def _explain(self, summary: FrontSummary) -> None:
        """Why each point is where it is (:mod:`dse.front.explain`) on its run, rewritten
        when it changed; with the plots only, so not at every intermediate record."""
        from mlflow.entities import RunTag

        wanted = explanation_tags(summary)
        for run_id, tags in changed(wanted, self._explained).items():
            self._client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self._explained = wanted

    def fix_reference(self) -> None:
        """Fix the hypervolume's reference point, once per sweep, when a point is counted:
        the stored one, else the one asked for, else :func:`default_reference` of the points
        counted so far. :meth:`record` calls it; a sweeper that records less often than it
        counts calls it after its first batch, so the reference stays that of the first
        trials. It is written to the parent by the next record."""
        if self.reference is not None or not self._points:
            return
        if self._requested_reference is not None:
            ref = {k: float(self._requested_reference[k]) for k in self._metrics}
        else:
            every = self._values(self._points)
            wide = default_reference(every, self._directions, margin=REFERENCE_MARGIN)
            ref = dict(zip(self._metrics, wide.tolist(), strict=True))
        ref = {k: v + 0.0 for k, v in ref.items()}  # -0.0 -> 0.0: the UI shows "-0.0"
        merged = {**ref, **self._stored}  # a stored value wins: it is what MLflow keeps
        self.reference = {k: merged[k] for k in self._metrics}

    def _history(
        self, bulk: Sequence[TrialPoint], new: Sequence[TrialPoint]
    ) -> list[tuple[int, float, int]]:
        """(step, hypervolume, front size) for the parent's history: one step with all of
        ``bulk`` (children read from the store that its history does not cover), then a
        step after each of the ``new`` points in the order they were counted, however often
        the front is recorded. Steps already in the history are skipped; after steps of
        another writer (a worker on the same study), whose order of points is not ours, one
        step with every point: a superset of what it counted, so the history never goes
        down."""
        if self.reference is None:
            return []
        first = len(self._points) - len(bulk) - len(new)  # points counted before these
        if self._last_step is not None and self._last_step > first:
            bulk, new = [*bulk, *new], []
        out, front = [], list(self._front)
        groups = ([bulk] if bulk else []) + [[p] for p in new]
        step = first
        for group in groups:
            step += len(group)
            front = self._front_of([*front, *group])
            if self._last_step is None or step > self._last_step:
                out.append((step, self._hypervolume(front), len(front)))
        return out

    def _front_of(self, points: Sequence[TrialPoint]) -> list[TrialPoint]:
        """The non-dominated feasible points of ``points``."""
        feasible = np.array([p.feasible for p in points], dtype=bool)
        mask = pareto_mask(self._values(points), self._directions, feasible)
        return [p for p, on in zip(points, mask, strict=True) if on]

    def _hypervolume(self, front: Sequence[TrialPoint]) -> float:
        assert self.reference is not None
        if not front:
            return 0.0
        reference = [self.reference[k] for k in self._metrics]
        return hypervolume(self._values(front), self._directions, reference)

    def _settle_loaded(self) -> None:
        """After :meth:`load`: the first children (in the order they started) that the
        parent's history already counts are recorded, their tags checked; the others are a
        bulk that the next :meth:`record` counts in one step. Without a history they stay
        points to count one by one."""
        if self._last_step is None:
            return
        covered = min(self._last_step, len(self._new))
        recorded, self._new_bulk, self._new = self._new[:covered], self._new[covered:], []
        self._front = self._front_of(recorded)
        on_front = {p.run_id for p in self._front}
        for p in recorded:  # tags a killed writer left unwritten
            written = self._written[p.run_id]
            for key, val in ((TAG_FEASIBLE, p.feasible), (TAG_PARETO, p.run_id in on_front)):
                text = "true" if val else "false"
                if written.get(key) != text:
                    self._pending.setdefault(p.run_id, {})[key] = written[key] = text

    def _log_history(self, history: Sequence[tuple[int, float, int]]) -> None:
        """The parent's ``hypervolume`` and ``pareto_size`` at each new step, in batches of
        MLflow's limit (1000 metrics per call)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            m
            for step, hv, size in history
            for m in (
                Metric("hypervolume", hv, now, step),
                Metric("pareto_size", float(size), now, step),
            )
        ]
        for start in range(0, len(metrics), 1000):
            self._client.log_batch(self.parent_run_id, metrics=metrics[start : start + 1000])
        if history:
            self._last_step = history[-1][0]


def _log_front_artifacts(
    client: mlflow.MlflowClient, parent_run_id: str, summary: FrontSummary
) -> None:
    with tempfile.TemporaryDirectory(prefix="dse-pareto-") as tmp:
        for f in write_front_files(summary, Path(tmp)):
            client.log_artifact(parent_run_id, str(f))
    describe_parent(client, parent_run_id, summary)  # the run's description: the front's table


def record_sweep_front(
    client: mlflow.MlflowClient,
    parent_run_id: str,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
    reference: Mapping[str, float] | None = None,
    artifacts: bool = True,
) -> FrontSummary:
    """Compute the front of a sweep's child runs and record it in MLflow.

    Children are the runs tagged ``mlflow.parentRunId = parent_run_id``; those FINISHED
    with every objective metric count. A child is feasible when it satisfies every
    constraint (a missing constraint metric makes it infeasible). Each counted child gets
    tags ``dse.feasible`` and ``dse.pareto_optimal`` ("true"/"false", rewritten only when
    they change; infeasible children are never "true").

    On the parent: metrics ``pareto_size`` and ``hypervolume`` with a step per counted
    child (step k: the front of the first k children, in the order they started); when the
    parent already has steps that this front did not write (an earlier call, another
    worker), one step at the number of counted children instead, so the history never goes
    down. Unless ``artifacts`` is False (the plots are most of the cost), also
    ``pareto_front.png/.svg/.csv`` and ``pareto_summary.json/.md``.

    Hypervolume reference rule: the first call that sees a counted child fixes the
    reference point, either ``reference`` (metric -> value) or :func:`default_reference`
    with ``margin=1.0`` of the children counted then (worst value pushed out by the whole
    observed range, or by |worst| when only one value was seen), and stores it as parent params
    ``hypervolume_reference.<metric>``. Later calls read it back from those params
    (``reference`` is then ignored), so every value of the history uses the same point;
    as children are only ever added, the logged hypervolume never decreases. Points worse
    than the reference in some objective add nothing.

    This reads every child run: once per sweep is fine, after every batch it is not (keep a
    :class:`SweepFront` instead).
    """
    front = SweepFront.load(client, parent_run_id, objectives, constraints, reference)
    return front.record(artifacts)


__all__ = [
    "REFERENCE_MARGIN",
    "REFERENCE_PARAM",
    "TAG_FEASIBLE",
    "TAG_PARETO",
    "TAG_TRIAL",
    "SweepFront",
    "child_runs",
    "record_sweep_front",
]
