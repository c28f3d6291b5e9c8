"""The search-space syntax, the ConfigStore entries and plugin discovery."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from dse.api.errors import ConfigError
from hydra_plugins.dse_optuna_sweeper._search_space import format_value, parse_search_space


def test_syntax_maps_to_optuna_distributions() -> None:
    space, fixed = parse_search_space(
        [
            "quantizer.bits=choice(3,4,5,6)",
            "coding.time_window=range(3, 9)",
            "hardware.num_pes=tag(log, int(interval(4, 256)))",
            "training.lr=tag(log, interval(1e-4, 1e-1))",
            "training.dropout=interval(0.0, 0.5)",
            "model.width=int(interval(8, 64))",
            "coding=ttfs_log,rate",
            "hardware.clock_mhz=range(100, 401, 100)",
            "training.momentum=range(0.5, 1.0, 0.25)",
            "training.epochs=12",
            "+tracking.tags.owner=me",
        ]
    )
    assert space == {
        "quantizer.bits": CategoricalDistribution([3, 4, 5, 6]),
        "coding.time_window": IntDistribution(3, 8),
        "hardware.num_pes": IntDistribution(4, 256, log=True),
        "training.lr": FloatDistribution(1e-4, 1e-1, log=True),
        "training.dropout": FloatDistribution(0.0, 0.5),
        "model.width": IntDistribution(8, 64),
        "coding": CategoricalDistribution(["ttfs_log", "rate"]),
        "hardware.clock_mhz": IntDistribution(100, 400, step=100),
        "training.momentum": FloatDistribution(0.5, 0.75, step=0.25),
    }
    assert fixed == ["training.epochs=12", "+tracking.tags.owner=me"]


def test_command_line_wins_over_params() -> None:
    space, fixed = parse_search_space(["quantizer.bits=choice(3,4)", "quantizer.bits=5,6"])
    assert space == {"quantizer.bits": CategoricalDistribution([5, 6])}
    space, fixed = parse_search_space(["quantizer.bits=choice(3,4)", "quantizer.bits=5"])
    assert space == {} and fixed == ["quantizer.bits=5"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("a=range(5, 2)", "start < stop"),
        ("a=tag(log, interval(0, 1))", "low > 0"),
        ("a=interval(2, 1)", "low < high"),
        ("a=tag(log, range(1, 9, 2))", "step 1"),
        ("a=tag(log, range(0.5, 2.0, 0.5))", "needs integers"),
        ("a=tag(linear, choice(1, 2))", "not understood"),
        ("a=choice([1,2],[3])", "numbers, strings"),
        ("a=choice(1,1,2)", "repeated"),
    ],
)
def test_bad_search_spaces_name_the_key(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"hydra.sweeper.params.a.*{message}"):
        parse_search_space([line])


def test_values_round_trip_through_hydra_overrides() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for value in [3, 0.1, 1e-5, -2.5, True, None, "ttfs_log", "a b", "true", "it's", "1.5"]:
        parsed = parser.parse_overrides([f"k={format_value(value)}"])[0].value()
        assert parsed == value and type(parsed) is type(value)


def test_discovery_and_config_store() -> None:
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins
    from hydra.plugins.sweeper import Sweeper

    from hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper import DseOptunaSweeper

    assert DseOptunaSweeper.__name__ in [c.__name__ for c in Plugins.instance().discover(Sweeper)]
    repo = ConfigStore.instance().repo["hydra"]["sweeper"]
    assert "dse_optuna.yaml" in repo
    assert {"tpe.yaml", "nsgaii.yaml", "nsgaiii.yaml", "gp.yaml", "random.yaml"} <= set(
        repo["sampler"]
    )


def test_settings_are_validated_first_thing_in_sweep() -> None:
    # in sweep(), not the constructor: a bad value is one line `error: ...` (Hydra reports
    # a constructor's error in several)
    from hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper import DseOptunaSweeper

    for kwargs, field in [
        ({"n_trials": 0}, "hydra.sweeper.n_trials"),
        ({"n_jobs": 0}, "hydra.sweeper.n_jobs"),
        ({"max_failure_rate": 1.5}, "hydra.sweeper.max_failure_rate"),
        ({"study_name": ""}, "hydra.sweeper.study_name"),
    ]:
        with pytest.raises(ConfigError, match=field):
            DseOptunaSweeper(**kwargs).sweeper._check_settings()


@pytest.mark.parametrize("sampler", ["tpe", "nsgaii", "nsgaiii", "gp", "random", "bruteforce"])
@pytest.mark.parametrize("experiment", ["pareto_digits", "pareto_fashion"])
def test_pareto_experiments_compose_with_every_sampler(experiment: str, sampler: str) -> None:
    import optuna
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from dse.registry.discovery import CONF_DIR
    from dse.registry.schema import register_schemas

    register_schemas()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"experiment={experiment}", f"hydra/sweeper/sampler={sampler}"],
            return_hydra_config=True,
        )
    # imported after compose: Hydra's first plugin scan may load the module anew
    from hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper import DseOptunaSweeper

    node = cfg.hydra.sweeper
    assert node._target_.endswith("DseOptunaSweeper") and node.study_name == experiment
    assert cfg.training.init == "standard" and list(cfg.search.constraints)[0] == (
        "snn_accuracy >= 80"
    )
    if experiment == "pareto_fashion":
        assert cfg.dataset._target_.endswith("FashionMNIST") and cfg.model.hidden == 256
        # a silicon budget pre-screened before training, and multi-fidelity promotion
        assert list(cfg.search.constraints)[1] == "area_mm2 <= 1.38"
        assert node.fidelity.key == "training.stop_epoch" and node.fidelity.low == 1
    space, fixed = parse_search_space([f"{k}={v}" for k, v in node.params.items()])
    assert space == {
        "quantizer.bits": CategoricalDistribution([2, 3, 4, 5, 6]),
        "coding.time_window": IntDistribution(1, 8),
        "hardware.num_pes": IntDistribution(4, 256, log=True),
    }
    public = instantiate(node, storage=None)  # in memory
    assert isinstance(public, DseOptunaSweeper)
    sweeper = public.sweeper  # the implementation behind the thin public class
    sweeper.config = cfg
    study = sweeper._create_study(["maximize", "minimize"])
    inner = getattr(study.sampler, "inner", study.sampler)  # seeded: a sampler per trial
    assert (
        type(inner)
        .__name__.lower()
        .startswith(
            {"bruteforce": "bruteforce", "gp": "gp", "random": "random"}.get(sampler, sampler[:3])
        )
    )
    assert sweeper.seed == cfg.seed  # the top-level seed; a fresh study has no offset
    assert isinstance(study.sampler, optuna.samplers.BaseSampler)


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_resuming_with_other_directions_is_refused(tmp_path, kind) -> None:
    from hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper import DseOptunaSweeper

    storage = {  # either way, the folder is created
        "journal": f"{tmp_path}/sub/optuna.journal",
        "sqlite": f"sqlite:///{tmp_path}/sub/optuna.db",
    }[kind]
    study = DseOptunaSweeper(storage=storage).sweeper._create_study(["maximize", "minimize"])
    assert len(study.trials) == 0
    again = DseOptunaSweeper(storage=storage).sweeper._create_study(["maximize", "minimize"])
    assert again._study_id == study._study_id  # load_if_exists: the same study
    with pytest.raises(ConfigError, match="search.objectives.*another hydra.sweeper.study_name"):
        DseOptunaSweeper(storage=storage).sweeper._create_study(["minimize"])
    with pytest.raises(ConfigError, match="load_if_exists is false"):
        DseOptunaSweeper(storage=storage, load_if_exists=False).sweeper._create_study(["maximize"])
