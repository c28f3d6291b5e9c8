"""Retake the README's screenshots from a real sweep in a real (headless Chromium) browser.

    make screenshots            # after `make run`: reads outputs/mlflow.db, outputs/optuna.journal
    .venv/bin/python scripts/screenshots.py --outputs DIR --out docs/img

It starts `mlflow ui` and `optuna-dashboard` on free local ports, drives Chromium over the
DevTools protocol (on a pipe: no extra package), and writes four PNGs:

- ``mlflow_front_runs.png``: the run list of the sweep's front, as the URL the sweep prints
  opens it in a fresh browser (the view it shares: filter, sort, objective and setting
  columns);
- ``mlflow_front_chart.png``: the same view's chart mode, the accuracy-energy scatter first;
- ``mlflow_parent_front.png``: the parent run's ``pareto_front.png`` in its Artifacts tab;
- ``optuna_dashboard.png``: the study in optuna-dashboard (its Pareto-front plot).

Needs ``chromium`` (Debian: ``apt-get install -y chromium``; `make screenshots` installs it).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dse.front.browse import front_list_url, runs_url  # noqa: E402


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, width: int, height: int) -> None:
        # Debian's /usr/bin/chromium is a shell wrapper; the binary keeps fds 3 and 4 as given
        exe = next((e for e in ("/usr/lib/chromium/chromium",) if os.access(e, os.X_OK)), None)
        exe = exe or shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            raise SystemExit("error: chromium not found (apt-get install -y chromium)")
        self.profile = tempfile.mkdtemp(prefix="dse-shots-")
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()

        def fds() -> None:  # the child reads commands on fd 3, answers on fd 4
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        flags += ["--remote-debugging-pipe", f"--user-data-dir={self.profile}"]
        flags += [f"--window-size={width},{height}", "--no-first-run"]
        self.proc = subprocess.Popen(
            [exe, *flags, "about:blank"],
            pass_fds=(3, 4, to_child, from_child),  # 3 and 4 survive the close after preexec
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buf = b""
        self._id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False, session=True)  # fmt: skip

    def call(self, method: str, session: bool = False, **params: object) -> dict:
        self._id += 1
        msg: dict = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self._buf:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression: str) -> object:
        out = self.call("Runtime.evaluate", expression=expression, returnByValue=True, session=True)
        return out.get("result", {}).get("value")

    def goto(self, url: str, wait_for: str, timeout: float = 60.0) -> None:
        """Load ``url`` afresh (a new hash alone would not reload the app) and wait until the
        page's text contains ``wait_for``, then let it settle."""
        self.call("Page.navigate", url="about:blank", session=True)
        self.call("Page.navigate", url=url, session=True)
        deadline = time.monotonic() + timeout
        while wait_for not in str(self.js("document.body ? document.body.innerText : ''")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: no {wait_for!r} after {timeout:.0f} s")
            time.sleep(0.5)
        time.sleep(2.0)  # charts and fonts finish drawing

    def shot(self, path: Path, height: int | None = None) -> None:
        """Save the viewport as PNG, its top ``height`` pixels when given."""
        clip = {}
        if height is not None:
            width = self.js("window.innerWidth")
            clip = {"clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}
        data = self.call("Page.captureScreenshot", format="png", session=True, **clip)["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd: list[str], url: str) -> subprocess.Popen:
    """Start a server and wait until ``url`` answers."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"error: {' '.join(cmd[:2])} did not start") from None
            time.sleep(0.5)


def small_png(path: Path, colors: int = 128) -> None:
    """Quantize to a palette: a screenshot of flat UI colours stays legible at a third the size."""
    from PIL import Image

    with Image.open(path) as img:
        img.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(
            path, optimize=True
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--outputs", type=Path, default=REPO / "outputs", help="paths.outputs of the run"
    )
    ap.add_argument("--study", default="pareto_digits", help="the Optuna study (and sweep) to show")
    ap.add_argument("--experiment", default="snn-dse")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = ap.parse_args()
    import mlflow

    store = f"sqlite:///{args.outputs.resolve()}/mlflow.db"
    journal = args.outputs.resolve() / "optuna.journal"
    client = mlflow.MlflowClient(store)
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise SystemExit(
            f"error: no experiment {args.experiment!r} in {store}: run `make run` first"
        )
    found = client.search_runs(
        [exp.experiment_id],
        f"tags.`dse.sweep_key` LIKE '%:{args.study}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not found:
        raise SystemExit(f"error: no sweep of study {args.study!r} in {store}")
    parent = found[0].info.run_id
    args.out.mkdir(parents=True, exist_ok=True)

    ui_port, dash_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    ui = f"http://127.0.0.1:{ui_port}"
    dash = f"http://127.0.0.1:{dash_port}"
    local = ["--host", "127.0.0.1", "--port"]
    mlflow_ui = [str(bin_dir / "mlflow"), "ui", "--backend-store-uri", store, "--workers", "1"]
    dashboard = [str(bin_dir / "optuna-dashboard"), str(journal)]
    servers = [
        serve([*mlflow_ui, *local, str(ui_port)], ui + "/health"),
        serve([*dashboard, *local, str(dash_port)], dash + "/api/studies"),
    ]
    browser = Chromium(1500, 820)
    try:
        exp_id = exp.experiment_id
        # 0. The run-list address dse prints must land on the run list ("Model training").
        browser.goto(runs_url(ui, exp_id), "Run Name")
        landed = str(browser.js("location.hash"))
        print(f"{runs_url('', exp_id)} opens {landed}")
        if not landed.startswith(f"#/experiments/{exp_id}/runs"):
            raise SystemExit(f"error: the experiment opened {landed}, not its run list")
        # no chat panel over the table
        browser.js("localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false')")
        # 1. The front's run list: the view the sweep shared (filter, sort, columns).
        browser.goto(front_list_url(ui, exp_id, parent), "matching runs")
        browser.shot(args.out / "mlflow_front_runs.png", height=520)
        # 1b. The same view's charts: the objectives' scatter first.
        browser.goto(front_list_url(ui, exp_id, parent) + "&compareRunsMode=CHART", "Pareto front")
        browser.shot(args.out / "mlflow_front_chart.png", height=700)
        # 2. The parent's front image, in its Artifacts tab.
        artifact = f"#/experiments/{exp_id}/runs/{parent}/artifacts/pareto_front.png"
        browser.goto(f"{ui}/{artifact}?workflowType=machine_learning", "pareto_front.png")
        browser.shot(args.out / "mlflow_parent_front.png")
        # 3. optuna-dashboard's study page.
        browser.goto(f"{dash}/dashboard/studies/{study_id(dash, args.study)}", "Pareto Front")
        browser.shot(args.out / "optuna_dashboard.png", height=650)
    finally:
        browser.close()
        for s in servers:
            os.killpg(s.pid, 15)
            s.wait(timeout=30)
    shots = ("mlflow_front_runs.png", "mlflow_front_chart.png", "mlflow_parent_front.png")
    for name in (*shots, "optuna_dashboard.png"):
        small_png(args.out / name)


def study_id(dash: str, name: str) -> int:
    with urllib.request.urlopen(f"{dash}/api/studies", timeout=30) as r:
        studies = json.load(r)["study_summaries"]
    return next(s["study_id"] for s in studies if s["study_name"] == name)


if __name__ == "__main__":
    main()
