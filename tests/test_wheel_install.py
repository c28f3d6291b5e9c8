"""A non-editable install works away from the checkout: build the wheel, install it into a
fresh virtual environment and run the commands a user runs, from another directory.

The fresh environment sees this one's third-party packages through a ``.pth`` line (no
download), but not the checkout: ``dse`` must come from the wheel alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), str(REPO)],
        cwd=out,
    )
    (path,) = out.glob("snn_dse-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(root)], cwd=root)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([str(root / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)], root)
    return root


def test_wheel_holds_configs_and_plugins_under_dse_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("snn_dse-")}
    assert top == {"dse", "hydra_plugins"}  # nothing named plugins or conf to collide
    assert "dse/conf/config.yaml" in names
    assert "dse/conf/hardware/technology/28nm.yaml" in names
    assert "dse/builtin/codings/ttfs_log.py" in names


@pytest.mark.slow
def test_installed_commands_run_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    bin_dir = venv / "bin"
    where = _run([str(bin_dir / "python"), "-c", "import dse; print(dse.__file__)"], tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout

    listed = _run([str(bin_dir / "dse"), "--list-plugins"], tmp_path).stdout
    assert "ttfs_log" in listed and "fashion_mnist" in listed

    priced = _run(
        [str(bin_dir / "dse-estimate"), "--model", "small_cnn", "--input-size", "8"]
        + ["--channels", "1", "--hardware", "ttfs_processor,ann_accelerator"],
        tmp_path,
    ).stdout
    assert "ann_accelerator / ttfs_processor energy" in priced

    point = _run([str(bin_dir / "dse"), "training.epochs=1"], tmp_path)
    assert "recorded" in point.stdout and (tmp_path / "outputs" / "mlflow.db").is_file()

    search = _run(
        [str(bin_dir / "dse"), "-m", "experiment=pareto_digits", "hydra.sweeper.n_trials=4"]
        + ["training.epochs=1"],
        tmp_path,
    )
    assert "4 trials" in search.stdout + search.stderr, search.stdout[-2000:]
