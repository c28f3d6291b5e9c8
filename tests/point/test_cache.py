"""The stage cache: integrity, atomicity, and keys that follow the config."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from dse.api.errors import ConfigError
from dse.builtin.datasets.synthetic import Synthetic
from dse.point.cache import StageCache, stable_hash
from dse.point.pipeline import load_data


def test_round_trip_and_disabled(tmp_path):
    cache = StageCache(tmp_path)
    assert cache.get("training", "k") is None
    cache.put("training", "k", b"payload")
    assert cache.get("training", "k") == b"payload"
    off = StageCache(tmp_path, enabled=False)
    assert off.get("training", "k") is None
    off.put("training", "other", b"x")
    assert not (tmp_path / "training" / "other").exists()


def test_corrupt_or_truncated_entry_is_rebuilt_not_trusted(tmp_path):
    cache = StageCache(tmp_path)
    cache.put("simulation", "k", b"0123456789" * 100)
    path = tmp_path / "simulation" / "k"
    path.write_bytes(path.read_bytes()[:-7])  # truncated write
    assert cache.get("simulation", "k") is None
    assert not path.exists()  # removed so the next put rebuilds it
    cache.put("simulation", "k", b"fresh")
    path.write_bytes(path.read_bytes().replace(b"fresh", b"frash"))  # flipped bytes
    assert cache.get("simulation", "k") is None


def _writer(root: str, payload: bytes, rounds: int) -> None:
    cache = StageCache(root)
    for _ in range(rounds):
        cache.put("training", "same-key", payload)


def test_two_processes_writing_the_same_key_leave_one_valid_entry(tmp_path):
    a, b = b"A" * 200_000, b"B" * 200_000
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), p, 30)) for p in (a, b)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    assert StageCache(tmp_path).get("training", "same-key") in (a, b)
    leftovers = [p.name for p in (tmp_path / "training").iterdir() if p.name != "same-key"]
    assert leftovers == []  # no temporary files left behind


def test_clear_removes_every_entry(tmp_path):
    cache = StageCache(tmp_path / "cache")
    cache.put("training", "a", b"1")
    cache.put("simulation", "b", b"2")
    cache.put("simulation", "c", b"3")
    (tmp_path / "cache" / "training" / ".a.leftover.tmp").write_bytes(b"half")  # killed writer
    assert cache.clear() == {"training": 1, "simulation": 2}
    assert cache.get("training", "a") is None
    assert not (tmp_path / "cache").exists()
    assert cache.clear() == {}  # nothing there: nothing to do


@pytest.mark.parametrize(
    "plant",
    [
        "mlflow.db",  # cache.dir pointed at an outputs folder
        "training/notes.txt",  # a file that is not an entry, inside a stage folder
        "runs/2026/config.yaml",  # a folder that is not a stage of the cache
    ],
)
def test_clear_refuses_a_folder_holding_anything_else(tmp_path, plant):
    cache = StageCache(tmp_path / "cache")
    cache.put("training", "a", b"1")
    planted = tmp_path / "cache" / plant
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("someone's data")
    with pytest.raises(ConfigError, match="not cache entries.*nothing deleted"):
        cache.clear()
    assert planted.read_text() == "someone's data"
    assert cache.get("training", "a") == b"1"  # nothing deleted at all


def test_clear_refuses_a_folder_without_the_marker(tmp_path):
    (tmp_path / "training").mkdir()
    entry = tmp_path / "training" / ("0" * 64)
    entry.write_bytes(b"0" * 64 + b"\npayload")  # looks like an entry, but not our folder
    with pytest.raises(ConfigError, match="no .dse-stage-cache marker"):
        StageCache(tmp_path).clear()
    assert entry.exists()


def test_stable_hash_ignores_dict_order_but_not_values():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


class CountingSynthetic(Synthetic):
    loads = 0

    def load(self):
        CountingSynthetic.loads += 1
        return super().load()


def test_a_process_loads_the_same_dataset_once():
    CountingSynthetic.loads = 0
    config = {"num_samples": 64, "seed": 0}
    first = load_data(CountingSynthetic(**config), config)
    again = load_data(CountingSynthetic(**config), dict(config))
    assert again is first and CountingSynthetic.loads == 1
    other = {"num_samples": 64, "seed": 1}  # another config: another dataset
    changed = load_data(CountingSynthetic(**other), other)
    assert CountingSynthetic.loads == 2
    assert not (changed.train.x == first.train.x).all()


def test_core_fingerprint_covers_stage_modules_only(tmp_path: Path) -> None:
    """Editing reporting code keeps cached trainings; editing a stage module does not."""
    import shutil

    from dse.point import cache

    copies = {}
    for name in ("original", "report_edited", "data_edited"):
        copies[name] = tmp_path / name
        shutil.copytree(Path(cache.__file__).parents[1], copies[name], symlinks=True)
    (copies["report_edited"] / "point" / "report.py").write_text("# a changed plot label\n")
    with open(copies["data_edited"] / "api" / "data.py", "a") as f:
        f.write("\n# a changed batching rule\n")
    original = cache.core_fingerprint(copies["original"])
    assert cache.core_fingerprint(copies["report_edited"]) == original
    assert cache.core_fingerprint(copies["data_edited"]) != original


class _Payload:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow
def test_planted_training_entry_is_rejected_never_executed(tmp_path: Path) -> None:
    """A cache entry with a valid checksum whose pickle would run code: rejected, retrained."""
    import io

    import torch

    from tests.support.services import run_dse

    args = ["training.epochs=1", "tracking.breakdown_chart=false", f"paths.outputs={tmp_path}/out"]
    first = run_dse(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = [p for p in (tmp_path / "out" / "cache" / "training").iterdir() if p.is_file()]
    assert len(entries) == 1
    marker = tmp_path / "executed"
    buffer = io.BytesIO()
    torch.save({"state_dict": _Payload(marker), "conversion_aware": True, "info": "{}"}, buffer)
    StageCache(tmp_path / "out" / "cache").put("training", entries[0].name, buffer.getvalue())
    for stale in (tmp_path / "out" / "cache" / "simulation").iterdir():
        stale.unlink()  # so the next run must load the training entry
    second = run_dse(args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert not marker.exists()
    assert "training: miss" in second.stdout  # trained again, from scratch
    logs = sorted((tmp_path / "out" / "runs").glob("*/*.log"))
    assert "training cache entry" in logs[-1].read_text() and "rejected" in logs[-1].read_text()
