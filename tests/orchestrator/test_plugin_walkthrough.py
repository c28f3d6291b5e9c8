"""docs/PLUGINS.md, executed: its files written and its commands run in a temp dir."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "PLUGINS.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


def doc_blocks() -> tuple[dict[str, str], list[str]]:
    files, commands = {}, []
    for lang, info, body in FENCE.findall(DOC.read_text()):
        title = re.search(r'title="([^"]+)"', info)
        if title:
            files[title.group(1)] = body
        elif lang == "console":
            commands += [line[2:] for line in body.splitlines() if line.startswith("$ ")]
    return files, commands


def test_the_document_has_what_the_walkthrough_promises():
    files, commands = doc_blocks()
    assert {"my_plugins/ternary.py", "my_plugins/synop_energy.py", "test_my_plugins.py"} <= set(
        files
    )
    assert any(c.startswith("dse --config-dir conf quantizer=ternary") for c in commands)


@pytest.mark.slow
def test_walkthrough_runs_as_written(tmp_path):
    assert not str(tmp_path).startswith(str(REPO))  # outside the repository
    files, commands = doc_blocks()
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    script = "set -e\n" + "\n".join(commands)
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "passed" in out and "failed" not in out  # the contract tests ran and passed
    assert re.search(r"ternary\s+Ternary weights", out)  # listed with its description
    assert re.search(r"synop_energy\s+Energy = synaptic ops", out)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (exp,) = [e for e in client.search_experiments() if e.name == "snn-dse"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["dse.quantizer"] == "ternary"
    assert run.data.tags["dse.hardware"] == "synop_energy"
    assert run.data.params["quantizer.threshold"] == "0.7"
    assert run.data.metrics["energy_uj"] > 0
