"""A design point's trained network taken out as an MLflow PyTorch model.

The network comes from the stage cache (read as data only, as every cache read is:
:meth:`dse.point.pipeline.DesignPoint.cached_network`); nothing is trained here. The
module written is the trained ANN in eval mode with its weights as the chip stores them:
batch norm folded and the quantizer's levels baked in (``weight`` holds the quantized
values), the coding's activation, input encoder and accumulator kept, so it computes the
network whose accuracy the design point recorded (``test_ann_accuracy``; with CAT that is
also the SNN's, ``test_snn_accuracy``, when conversion is exact).

**Pickle.** ``mlflow.pytorch`` stores the whole module with (cloud)pickle: loading it
with ``mlflow.pytorch.load_model`` runs code from the file, so load only bundles you
trust. Beside it, ``weights.pt`` holds the state dict alone (tensors only), loadable
with ``torch.load(..., weights_only=True)`` into ``dse``'s own module. dse never loads a
bundle itself. mlflow and torch are imported inside the functions.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

if TYPE_CHECKING:
    from torch import nn

    from dse.api.interfaces import DataSplits, Split
    from dse.point.pipeline import DesignPoint

MODEL_DIR = "model"  # the artifact path on the run: runs:/<id>/model
WEIGHTS_FILE = "weights.pt"  # beside MLmodel: the state dict, no pickled code
EXAMPLE_ROWS = 4  # test images kept as the model's input example


@dataclass(frozen=True)
class TakenOut:
    """A design point's network ready to save: the module, its data, its test accuracy."""

    module: nn.Module
    data: DataSplits
    test_accuracy: float  # %, the module's own on the test split
    conversion_aware: bool  # CAT: the module computes the SNN's function


def design_point(plain: Mapping[str, Any], choices: Mapping[str, str]) -> DesignPoint:
    """The design point of a recorded run: its resolved config (the run's ``config.yaml``)
    and plugin choices (tags ``dse.<group>``); plugins checked as in any run."""
    from dse.point.cache import StageCache
    from dse.point.pipeline import DesignPoint, build_plugins

    cfg = OmegaConf.create(dict(plain))
    plugins = build_plugins(cfg)
    cache = StageCache(cfg.cache.dir, bool(cfg.cache.enabled))
    return DesignPoint(cfg, plugins, cache, dict(choices))


def inference_module(module: nn.Module) -> nn.Module:
    """A copy of a trained :class:`dse.network.Network` in eval mode with batch norm folded
    and each quantized layer's weight replaced by its quantized values (the quantizer is
    idempotent, so its forward pass is unchanged)."""
    import torch
    from torch import nn

    from dse.api.network import WeightedLayer

    out = copy.deepcopy(module).eval()
    for layer in getattr(out, "layers", []):
        if isinstance(layer, WeightedLayer) and layer.quantizer is not None:
            weight, bias = layer.folded()
            with torch.no_grad():
                weight = layer.quantizer.quantize(weight)
            layer.weight = nn.Parameter(weight.detach(), requires_grad=False)
            layer.bias = nn.Parameter(bias.detach(), requires_grad=False)
            layer.bn = None
    for p in out.parameters():
        p.requires_grad_(False)
    return out


def accuracy(module: nn.Module, split: Split, batch_size: int = 512) -> float:
    """Top-1 accuracy (%) of ``module`` on ``split``, batched as a design point evaluates."""
    import torch

    from dse.api.data import batches

    correct = 0
    with torch.no_grad():
        for x, y in batches(split, batch_size):
            correct += int((module(x).argmax(dim=1) == y).sum())
    return 100.0 * correct / max(len(split), 1)


def take_out(point: DesignPoint) -> TakenOut | None:
    """The design point's network from the cache, baked for inference; None when the cache
    does not hold it (disabled, cleared, or a training method that cannot rebuild its module).
    Falls back to the unbaked module if baking would change a single logit."""
    import torch

    data, arch = point.prepare()
    network = point.cached_network(arch)
    if network is None:
        return None
    original = network.module.eval()
    baked = inference_module(original)
    with torch.no_grad():
        x = data.test.x[:256]
        if not torch.equal(original(x), baked(x)):
            baked = copy.deepcopy(original)
    return TakenOut(baked, data, accuracy(baked, data.test), network.conversion_aware)


def _requirements() -> list[str]:
    """Pinned to what wrote the model: unpickling needs the same classes."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("torch", "snn-dse", "cloudpickle"):
        try:
            out.append(f"{name}=={version(name).split('+')[0]}")
        except PackageNotFoundError:
            out.append(name)
    return out


def save_bundle(taken: TakenOut, folder: Path) -> Path:
    """``mlflow.pytorch.save_model`` into ``folder`` (input example: the first test images,
    signature inferred from them) plus ``weights.pt``; returns ``folder``. Requirements are
    given, not inferred (inference starts a process that imports torch)."""
    import torch

    example = taken.data.test.x[:EXAMPLE_ROWS]
    if example.dtype == torch.uint8:
        example = example.to(torch.float32) / 255.0
    example_np = example.to(torch.float32).numpy()
    with torch.no_grad():
        logits = taken.module(torch.from_numpy(example_np)).numpy()
    # MLflow warns about pickle on every model; the sweep says it once, in its own line
    quiet = logging.getLogger("mlflow.pytorch")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _save(taken, folder, example_np, logits)
    finally:
        quiet.setLevel(level)
    torch.save(taken.module.state_dict(), folder / WEIGHTS_FILE)
    return folder


def _save(taken: TakenOut, folder: Path, example_np: Any, logits: Any) -> None:
    import mlflow.pytorch
    from mlflow.models import infer_signature

    mlflow.pytorch.save_model(
        taken.module,
        str(folder),
        signature=infer_signature(example_np, logits),
        input_example=example_np,
        pip_requirements=_requirements(),
        # MLflow 3.17 tries torch.export (pt2) first; the quantizers' data-dependent scales
        # do not trace, so the module is pickled (see the module docstring)
        serialization_format="pickle",
    )


def bundle_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


__all__ = [
    "EXAMPLE_ROWS",
    "MODEL_DIR",
    "WEIGHTS_FILE",
    "TakenOut",
    "accuracy",
    "bundle_bytes",
    "design_point",
    "inference_module",
    "save_bundle",
    "take_out",
]
