"""What makes a sweep's front browsable in MLflow's UI: the parent run's description (the
front's table, linked to its child runs) and params (objectives, constraints, search
space, sampler), and the URLs of the run list and of the list filtered to the front.
(Run names and the experiment's kind: dse.tracking.names; the study's annotations for
optuna-dashboard: beside the Optuna sweeper.) mlflow is imported inside the functions
that need it.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from dse.api.interfaces import PLUGIN_GROUPS
from dse.front.render import FrontSummary
from dse.front.search import Constraint, Objective

if TYPE_CHECKING:
    from mlflow import MlflowClient

# MLflow 3.17.2's UI lands on the view of its global "GenAI | Model training" switch, not
# on the experiment's kind (the URL's ``workflowType``, else the browser's last choice, else
# GenAI: checked in headless Chromium), so the URLs dse prints carry the side to open.
WORKFLOW = {"workflowType": "machine_learning"}  # the UI's "Model training" side
# An experiment tag holding a run-list view (filter, sort, columns) that MLflow's UI opens
# from a URL's ``viewStateShareKey`` (its "Share" button writes the same), in any browser.
SHARED_VIEW_TAG = "mlflow.sharedViewState."
# The run's description in MLflow's UI (its Overview tab renders it as Markdown).
NOTE_TAG = "mlflow.note.content"
PARAM_PREFIX = "sweep."
DEFAULT_UI = "http://127.0.0.1:5000"


# --------------------------------------------------------------------------- the parent run


def _space_lines(config: DictConfig) -> dict[str, str]:
    """The sweep's search space: ``hydra.sweeper.params`` plus the sweeping overrides of the
    command line (``quantizer.bits=3,4,5``, ``choice(...)``), key -> Hydra's text."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    space = {
        str(k): str(v)
        for k, v in (OmegaConf.select(config, "hydra.sweeper.params") or {}).items()
        if v is not None
    }
    task = list(OmegaConf.select(config, "hydra.overrides.task") or [])
    for override in OverridesParser.create().parse_overrides(task):
        if override.is_sweep_override():
            space[override.get_key_element()] = override.input_line.partition("=")[2]
    return space


def sweep_params(
    config: DictConfig, objectives: Sequence[Objective], constraints: Sequence[Constraint]
) -> dict[str, str]:
    """What the parent run records about its sweep: sweeper, objectives with directions,
    constraints, the search space, sampler and seed, the trial budget, the reference design."""
    sweeper = OmegaConf.select(config, "hydra.sweeper") or {}
    target = str(sweeper.get("_target_", ""))
    kind = "dse_optuna" if "optuna" in target else "dse_grid" if "grid" in target else target
    params = {
        "sweeper": kind.rsplit(".", 1)[-1] or "unknown",
        "objectives": ", ".join(f"{o.direction} {o.metric}" for o in objectives),
        "constraints": ", ".join(str(c) for c in constraints) or "none",
    }
    params.update({f"space.{k}": v for k, v in _space_lines(config).items()})
    sampler = sweeper.get("sampler")
    if sampler is not None and sampler.get("_target_"):
        params["sampler"] = str(sampler["_target_"]).rsplit(".", 1)[-1]
        seed = OmegaConf.select(sampler, "seed")
        params["seed"] = str(seed)
    elif kind == "dse_grid":
        params["sampler"] = "grid (every combination)"
    if sweeper.get("n_trials") is not None:
        params["n_trials"] = str(sweeper["n_trials"])
    reference = reference_design(config)
    if reference is not None:
        name, values = reference
        params["reference_design"] = f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items())
    return {PARAM_PREFIX + k: v[:6000] for k, v in params.items()}


def log_sweep_params(
    client: MlflowClient,
    parent_run_id: str,
    config: DictConfig,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> None:
    """Record :func:`sweep_params` on the parent, in one write. MLflow params cannot change:
    a resumed sweep whose settings differ (e.g. another ``n_trials``) keeps the values its
    first invocation recorded and adds only new keys."""
    from mlflow.entities import Param
    from mlflow.exceptions import MlflowException

    params = sweep_params(config, objectives, constraints)
    try:
        client.log_batch(parent_run_id, params=[Param(k, v) for k, v in params.items()][:100])
    except MlflowException:  # a value differs from the first invocation's
        held = client.get_run(parent_run_id).data.params
        new = [Param(k, v) for k, v in params.items() if k not in held]
        if new:
            client.log_batch(parent_run_id, params=new[:100])


def reference_design(config: Any) -> tuple[str, dict[str, str]] | None:
    """``search.reference`` (name and the settings it fixes), or None when not named."""
    node = OmegaConf.select(config, "search.reference") if isinstance(config, DictConfig) else None
    if not node or not node.get("params"):
        return None
    values = {str(k): str(v) for k, v in node.params.items()}
    return str(node.get("name") or "reference design"), values


def runs_url(ui: str, experiment_id: str) -> str:
    """MLflow's run list of the experiment, on the UI's "Model training" side."""
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?{urllib.parse.urlencode(WORKFLOW)}"


def front_view_key(parent_run_id: str) -> str:
    """The share key of a sweep's front view (see :func:`front_view`)."""
    return f"front-{parent_run_id}"


def front_view(summary: FrontSummary, parent_run_id: str) -> dict[str, Any]:
    """The run list a person needs to read the front, as MLflow's UI shares a view: the
    sweep's Pareto-optimal children, best first objective first, with the objectives, the
    swept settings and feasibility as columns (MLflow otherwise keeps columns per browser),
    and in its chart view the first two objectives' scatter first (the UI's section and
    chart-card fields, as its Share button stores them)."""
    first = summary.objectives[0]
    columns = [f"metrics.`{o.metric}`" for o in summary.objectives]
    for key in summary.varying_params:  # a plugin choice is a tag (dse.coding), not a param
        columns.append(f"tags.`dse.{key}`" if key in PLUGIN_GROUPS else f"params.`{key}`")
    columns.append("tags.`dse.feasible`")
    view: dict[str, Any] = {
        "searchFilter": f"tags.`dse.pareto_optimal` = 'true' and "
        f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
        "orderByKey": f"metrics.`{first.metric}`",
        "orderByAsc": first.direction == "minimize",
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "datasetsFilter": [],
        "modelVersionFilter": "All Runs",
        "selectedColumns": columns,
    }
    if len(summary.objectives) >= 2:  # the chart view opens on the objectives' scatter
        x, y = summary.objectives[0].metric, summary.objectives[1].metric
        section = {"uuid": "dse-front", "name": "Pareto front", "display": True}
        section |= {"isReordered": False, "deleted": False, "isGenerated": False}
        chart = {"uuid": "dse-front-scatter", "type": "SCATTER", "metricSectionId": "dse-front"}
        chart |= {"runsCountToCompare": 100, "deleted": False, "isGenerated": False}
        chart |= {"xaxis": {"key": x, "type": "METRIC"}, "yaxis": {"key": y, "type": "METRIC"}}
        # the UI adds its generated charts (one per metric) in sections after this one
        view |= {"compareRunSections": [section], "compareRunCharts": [chart]}
        view["isAccordionReordered"] = True
    return view


def front_list_url(ui: str, experiment_id: str, parent_run_id: str) -> str:
    """MLflow's run list showing the sweep's front (the view :func:`describe_parent` shares)."""
    query = urllib.parse.urlencode({"viewStateShareKey": front_view_key(parent_run_id), **WORKFLOW})
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def describe_parent(client: MlflowClient, parent_run_id: str, summary: FrontSummary) -> None:
    """Share the front's run-list view (:func:`front_view`, an experiment tag MLflow's UI
    reads from the URL's ``viewStateShareKey``) and set the parent run's description: the
    front's Markdown summary with each trial linked to its child run, and a link to that view
    (relative links: they work wherever the UI is served)."""
    text = summary.markdown(link_base="#")
    if summary.experiment_id is not None:
        view = json.dumps(front_view(summary, parent_run_id))
        key = SHARED_VIEW_TAG + front_view_key(parent_run_id)
        client.set_experiment_tag(summary.experiment_id, key, view)
        url = front_list_url("", summary.experiment_id, parent_run_id).lstrip("/")
        text += f"\n[The front in the run list]({url}) (objectives and settings as columns).\n"
    client.set_tag(parent_run_id, NOTE_TAG, text)


__all__ = [
    "DEFAULT_UI",
    "NOTE_TAG",
    "describe_parent",
    "front_list_url",
    "front_view",
    "log_sweep_params",
    "reference_design",
    "runs_url",
    "sweep_params",
]
