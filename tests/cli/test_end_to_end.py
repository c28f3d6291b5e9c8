"""The real `dse` command on digits: one design point, a grid multirun, the cache, bad input.

Each test runs the console script in a subprocess with outputs and tracking in tmp_path.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

NAMED_METRICS = [
    "ann_accuracy",
    "snn_accuracy",
    "conversion_loss",
    "energy_uj",
    "latency_ms",
    "spikes_per_inference",
    "synops_per_inference",
]
PLUGIN_TAGS = [
    "dse.dataset",
    "dse.model",
    "dse.training",
    "dse.quantizer",
    "dse.coding",
    "dse.hardware",
]


def client_for(outputs):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{outputs}/mlflow.db")


def runs(outputs):
    client = client_for(outputs)
    exp = client.get_experiment_by_name("snn-dse")
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=1000)


def artifact_names(client, run_id):
    return {a.path for a in client.list_artifacts(run_id)}


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    from tests.support.services import run_dse

    tmp = tmp_path_factory.mktemp("single")
    done = run_dse(["training.epochs=2", f"paths.outputs={tmp}/outputs"], cwd=tmp)
    return tmp, done


def test_one_design_point_records_one_complete_run(single_run):
    tmp, done = single_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "conversion loss" in done.stdout and "mlflow ui --backend-store-uri" in done.stdout
    (run,) = runs(tmp / "outputs")
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for name in NAMED_METRICS:
        assert name in metrics and f"val_{name}" in metrics and f"test_{name}" in metrics
        assert metrics[name] == metrics[f"val_{name}"]
    assert "area_mm2" in metrics and metrics["energy_uj"] > 0
    assert metrics["conversion_loss"] == 0.0  # CAT + ttfs_log: the SNN is the ANN
    tags = run.data.tags
    assert [tags[t] for t in PLUGIN_TAGS] == [
        "digits",
        "small_cnn",
        "cat",
        "log",
        "ttfs_log",
        "ttfs_processor",
    ]
    assert tags["dse.cache.training"] == "miss"
    assert run.data.params["quantizer.bits"] == "5" and run.data.params["training.epochs"] == "2"
    names = artifact_names(client_for(tmp / "outputs"), run.info.run_id)
    assert {
        "config.yaml",
        "hardware_breakdown.csv",
        "hardware_breakdown.svg",
        "workload.json",
    } <= names


def test_bad_input_fails_fast_and_leaves_recorded_runs_intact(single_run):
    from tests.support.services import run_dse

    tmp, done = single_run
    assert done.returncode == 0
    db = tmp / "outputs" / "mlflow.db"
    before = sorted(r.info.run_id for r in runs(tmp / "outputs"))
    cache_files = sorted(p.name for p in (tmp / "outputs" / "cache").rglob("*"))
    cases = {
        "hardware.num_pes=0": "hardware.num_pes must be >= 1 (got 0)",
        "coding.time_window=0": "coding.time_window",
        "quantizer=logarithmic": "Available options",
        "tracking.uri=http://127.0.0.1:9": "unreachable",
    }
    for override, message in cases.items():
        bad = run_dse([override, f"paths.outputs={tmp}/outputs"], cwd=tmp, timeout=120)
        assert bad.returncode != 0
        assert message in bad.stderr, bad.stderr[-2000:]
        assert "Traceback" not in bad.stderr
    sweep = run_dse(
        [
            "-m",
            "quantizer.bits=3,4",
            "tracking.uri=http://127.0.0.1:9",
            f"paths.outputs={tmp}/outputs",
        ],
        cwd=tmp,
        timeout=120,
    )
    assert sweep.returncode != 0 and "unreachable" in sweep.stderr
    assert "Traceback" not in sweep.stderr
    assert sorted(r.info.run_id for r in runs(tmp / "outputs")) == before
    assert sorted(p.name for p in (tmp / "outputs" / "cache").rglob("*")) == cache_files
    assert db.exists()


def test_grid_multirun_records_parent_children_and_pareto_front(tmp_path):
    from tests.support.services import run_dse

    done = run_dse(
        [
            "-m",
            "quantizer.bits=3,4",
            "coding.time_window=4,8",
            "training.epochs=1",
            f"paths.outputs={tmp_path}/outputs",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    all_runs = runs(tmp_path / "outputs")
    parents = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in all_runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 4
    assert {
        (r.data.params["quantizer.bits"], r.data.params["coding.time_window"]) for r in children
    } == {("3", "4"), ("3", "8"), ("4", "4"), ("4", "8")}
    names = artifact_names(client_for(tmp_path / "outputs"), parent.info.run_id)
    assert {"pareto_front.png", "pareto_front.csv"} <= names
    assert all(r.data.tags["dse.pareto_optimal"] in ("true", "false") for r in children)


def test_hardware_only_sweep_trains_once_and_training_change_retrains(tmp_path):
    from tests.support.services import run_dse

    out = f"paths.outputs={tmp_path}/outputs"
    done = run_dse(["-m", "hardware.num_pes=4,16,64", "training.epochs=1", out], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    children = [r for r in runs(tmp_path / "outputs") if "mlflow.parentRunId" in r.data.tags]
    uses = sorted(r.data.tags["dse.cache.training"] for r in children)
    assert uses == ["hit", "hit", "miss"]  # trained once
    energies = {r.data.params["hardware.num_pes"]: r.data.metrics for r in children}
    accuracies = {m["snn_accuracy"] for m in energies.values()}
    assert len(accuracies) == 1  # hardware never changes what was trained
    assert energies["4"]["latency_ms"] > energies["64"]["latency_ms"]

    again = run_dse(["training.epochs=2", out], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    latest = max(runs(tmp_path / "outputs"), key=lambda r: r.info.start_time)
    assert latest.data.tags["dse.cache.training"] == "miss"

    cleared = run_dse(["--clear-cache", out], cwd=tmp_path)
    assert cleared.returncode == 0 and "removed" in cleared.stdout
    assert not any((tmp_path / "outputs" / "cache").rglob("*"))


def test_list_plugins_names_every_option_with_a_description(tmp_path):
    from tests.support.services import run_dse

    done = run_dse(["--list-plugins"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for option in [
        "digits",
        "cifar10",
        "vgg16",
        "cat",
        "standard",
        "log",
        "ttfs_log",
        "rate",
        "ttfs_processor",
        "ann_accelerator",
    ]:
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith(option))
        assert len(line.split(None, 1)) == 2  # a one-line description follows the name


def test_cat_fine_tuned_from_standard_pretrains_once_per_sweep(tmp_path):
    from tests.support.services import run_dse

    done = run_dse(
        [
            "-m",
            "quantizer.bits=3,4",
            "training.init=standard",
            "training.pretrain.epochs=1",
            "training.epochs=1",
            "tracking.breakdown_chart=false",
            f"paths.outputs={tmp_path}/outputs",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    children = [r for r in runs(tmp_path / "outputs") if "mlflow.parentRunId" in r.data.tags]
    assert sorted(r.data.tags["dse.cache.pretraining"] for r in children) == ["hit", "miss"]
    assert [r.data.tags["dse.cache.training"] for r in children] == ["miss", "miss"]
    client = client_for(tmp_path / "outputs")
    for run in children:
        names = artifact_names(client, run.info.run_id)
        assert "hardware_breakdown.csv" in names and "hardware_breakdown.svg" not in names

    # Every key of CAT's own stage changed: the same pretrained network is fine-tuned.
    variant = run_dse(
        [
            "training.init=standard",
            "training.pretrain.epochs=1",
            "training.epochs=1",
            "training.lr=0.0005",
            "training.batch_size=32",
            "training.lr_schedule=none",
            "training.augment=false",
            "training.bn_statistics=running",
            "training.distill=0.5",
            "tracking.breakdown_chart=false",
            f"paths.outputs={tmp_path}/outputs",
        ],
        cwd=tmp_path,
    )
    assert variant.returncode == 0, variant.stderr[-3000:]
    latest = max(runs(tmp_path / "outputs"), key=lambda r: r.info.start_time)
    assert latest.data.tags["dse.cache.pretraining"] == "hit"
    assert latest.data.tags["dse.cache.training"] == "miss"

    # A standard design point with the pretraining's settings is that same network.
    standard = run_dse(
        ["training=standard", "training.epochs=1", f"paths.outputs={tmp_path}/outputs"],
        cwd=tmp_path,
    )
    assert standard.returncode == 0, standard.stderr[-3000:]
    latest = max(runs(tmp_path / "outputs"), key=lambda r: r.info.start_time)
    assert latest.data.tags["dse.training"] == "standard"
    assert latest.data.tags["dse.cache.training"] == "hit"
