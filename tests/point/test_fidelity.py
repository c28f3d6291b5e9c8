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


def test_a_warm_start_begins_from_the_nearest_cat_network_and_still_converts_exactly(
    compose,  # noqa: ANN001
    tmp_path,  # noqa: ANN001
) -> None:
    cache = tmp_path / "cache"
    _run(compose, cache, ["quantizer.bits=4"])  # the first network of the family
    _run(compose, cache, ["quantizer.bits=6", "coding.time_window=5"])
    warm_point, warm = _run(compose, cache, ["quantizer.bits=5", "training.warm_start=nearest"])
    cold_point, cold = _run(compose, tmp_path / "cold", ["quantizer.bits=5"])
    assert warm.cache_use.get("warm_start") == "hit" and warm.training_info["init"] == "warm"
    # bits 4 (one key, by 1) is nearer than bits 6 with T = 5 (two keys)
    assert warm_point.warm_source() == _run(compose, cache, ["quantizer.bits=4"])[0].training_key()
    assert warm_point.training_key() != cold_point.training_key()
    assert warm.metrics["conversion_loss"] == 0.0  # the SNN still computes the network exactly
    assert cold.metrics["conversion_loss"] == 0.0
    # pinned: an equally near network trained later changes neither its key nor network
    _run(compose, cache, ["quantizer.bits=5", "coding.time_window=2"])
    again, again_result = _run(compose, cache, ["quantizer.bits=5", "training.warm_start=nearest"])
    assert again.training_key() == warm_point.training_key()
    assert again_result.cache_use["training"] == "hit"


def test_clear_cache_takes_the_warm_start_index_too(compose, tmp_path) -> None:  # noqa: ANN001
    cache = tmp_path / "cache"
    _run(compose, cache, ["quantizer.bits=4"])
    _run(compose, cache, ["quantizer.bits=5", "training.warm_start=nearest"])
    counts = StageCache(cache).clear()
    assert counts["warm_index"] == 2 and counts["warm"] == 1 and not cache.exists()
