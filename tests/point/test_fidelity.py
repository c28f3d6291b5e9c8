"""A design point's training resumes from the longest cached prefix of its own schedule."""

from __future__ import annotations

from dse.point.cache import StageCache
from dse.point.pipeline import DesignPoint, build_plugins

SMALL = ["training.epochs=2", "model.channels=[4,8]", "coding.time_window=3"]


def _run(compose, cache_dir, extra: list[str]):  # noqa: ANN001, ANN202
    cfg = compose([*SMALL, *extra])
    plugins = build_plugins(cfg)
    point = DesignPoint(cfg, plugins, StageCache(cache_dir))
    return point, point.run()


def test_promotion_trains_only_what_the_low_fidelity_run_lacks(compose, tmp_path) -> None:  # noqa: ANN001
    low_point, low = _run(compose, tmp_path / "mf", ["training.stop_epoch=1"])
    assert low.cache_use["training"] == "miss" and low.training_info["epochs"] == 1
    full_point, full = _run(compose, tmp_path / "mf", [])
    assert full.cache_use["training"] == "resumed" and full.training_info["epochs"] == 2
    # the same design point trained straight through, in a cache of its own
    straight_point, straight = _run(compose, tmp_path / "straight", [])
    assert straight.cache_use["training"] == "miss"
    assert full.metrics == {**straight.metrics}  # same network, same measurements
    assert full_point.training_key() == straight_point.training_key()
    assert low_point.training_key() != full_point.training_key()
    # writing the whole schedule out is the same design point
    explicit, _ = _run(compose, tmp_path / "mf", ["training.stop_epoch=2"])
    assert explicit.training_key() == full_point.training_key()
