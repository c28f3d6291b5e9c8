"""Each reach-in into a library's private parts (dse/runtime/adapters) still works: when a
library changes underneath, the failure names what moved and where dse uses it."""

from __future__ import annotations

from pathlib import Path

import pytest


def _moved(library: str, name: str, used_by: str) -> str:
    return (
        f"{library} changed: {name} is gone or behaves otherwise; dse uses it in {used_by} "
        "through dse/runtime/adapters: find the new way there"
    )


def test_hydra_job_exception_comes_back_without_a_line_on_stderr(capsys) -> None:
    from hydra.core.utils import JobReturn, JobStatus

    from dse.runtime.adapters.hydra import job_exception

    err = RuntimeError("diverged")
    ret = JobReturn(status=JobStatus.FAILED, _return_value=err)
    assert job_exception(ret) is err, _moved("hydra", "JobReturn.return_value", "the sweepers")
    assert capsys.readouterr().err == ""  # the sweeper's own one line only
    done = JobReturn(status=JobStatus.COMPLETED, _return_value={"a": 1.0})
    assert job_exception(done) is None


def test_hydra_basic_sweeper_still_has_what_the_grid_extends() -> None:
    from dse.runtime.adapters.hydra import BasicSweeper

    for name in ("split_arguments", "get_job_batch", "is_done", "_parse_config"):
        assert hasattr(BasicSweeper, name), _moved("hydra", f"BasicSweeper.{name}", "dse_grid")
    batches = BasicSweeper.split_arguments(_parse(["a=1,2", "b=x"]), max_batch_size=None)
    assert batches == [[["a=1", "b=x"], ["a=2", "b=x"]]], _moved(
        "hydra", "BasicSweeper.split_arguments", "dse_grid"
    )


def _parse(lines: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(lines)


def test_hydra_override_helpers_apply_values_like_composition() -> None:
    from omegaconf import OmegaConf

    from dse.runtime.adapters.hydra import apply_overrides, callbacks, overrides_dirname

    cfg = OmegaConf.create({"quantizer": {"bits": 5}})
    try:
        apply_overrides(_parse(["quantizer.bits=3", "++extra=1"]), cfg)
    except AttributeError:
        pytest.fail(_moved("hydra", "ConfigLoaderImpl._apply_overrides_to_config", "dse_local"))
    assert cfg.quantizer.bits == 3 and cfg.extra == 1
    text = overrides_dirname(_parse(["b=2", "a=1"]), kv_sep="=", item_sep=",", exclude_keys=[])
    assert text == "a=1,b=2", _moved("hydra", "get_overrides_dirname", "dse_local")
    assert hasattr(callbacks(), "on_job_start"), _moved("hydra", "Callbacks", "bench/, tests/")


def test_hydra_config_repository_tells_groups_from_keys() -> None:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from dse.registry.discovery import CONF_DIR
    from dse.runtime.adapters.hydra import config_repository

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        try:
            repo = config_repository(loader, "config", [])
        except AttributeError:
            pytest.fail(
                _moved(
                    "hydra",
                    "ConfigLoaderImpl._parse_overrides_and_create_caching_repo",
                    "dse_local",
                )
            )
        assert repo.group_exists("quantizer") and not repo.group_exists("seed")


def test_mlflow_store_engine_is_the_sqlalchemy_engine(tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from sqlalchemy.engine import Engine

    from dse.runtime.adapters.mlflow import store_engine

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    try:
        engine = store_engine(client)
    except AttributeError:
        pytest.fail(_moved("mlflow", "MlflowClient._tracking_client.store.engine", "dse.tracking"))
    assert isinstance(engine, Engine), _moved("mlflow", "store.engine", "dse.tracking")
    engine.dispose()


def test_optuna_trial_ids_and_range_checks() -> None:
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    from dse.runtime.adapters.optuna import admits, set_system_attr, trial_id, writable_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    trial = study.ask()
    try:
        set_system_attr(trial, "constraints", [0.5])
        frozen = study.trials[0]
        again = writable_trial(study, frozen)
    except AttributeError:
        pytest.fail(_moved("optuna", "Trial._trial_id / FrozenTrial._trial_id", "dse_optuna"))
    assert trial_id(again) == trial_id(trial) == trial_id(frozen)
    assert study.trials[0].system_attrs["constraints"] == [0.5]
    try:
        inside = admits(IntDistribution(4, 256, log=True), 17)
        outside = admits(IntDistribution(4, 256, log=True), 300)
        off_step = admits(FloatDistribution(0.0, 1.0, step=0.25), 0.3)
    except AttributeError:
        pytest.fail(_moved("optuna", "BaseDistribution._contains", "search.reference"))
    assert inside and not outside and not off_step


def test_no_reach_in_outside_the_adapters() -> None:
    """Private names of hydra, mlflow and optuna appear only in dse/runtime/adapters."""
    repo = Path(__file__).resolve().parents[2]
    private = (
        "hydra._internal",
        "._return_value",
        "._tracking_client",
        "._trial_id",
        "._contains(",
        "_parse_overrides_and_create_caching_repo",
        "_apply_overrides_to_config",
    )
    adapters = repo / "dse" / "runtime" / "adapters"
    sources = [
        p
        for folder in ("dse", "hydra_plugins", "plugins", "bench")
        for p in (repo / folder).rglob("*.py")
        if adapters not in p.parents and "builtin" not in p.relative_to(repo).parts
    ]
    found = [
        f"{p.relative_to(repo)}: {name}"
        for p in sources
        for name in private
        if name in p.read_text()
    ]
    assert not found, f"use dse/runtime/adapters instead: {found}"
