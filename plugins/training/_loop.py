"""The training loop the built-in training methods share (the network itself: dse.network)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from dse.api.errors import TrainingError
from dse.api.interfaces import DataSplits
from dse.api.network import Network


def train_network(
    module: Network,
    data: DataSplits,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    weight_decay: float,
    momentum: float,
    lr_schedule: str,
    augment: bool,
    device: str,
    generator: torch.Generator,
    desc: str,
    teacher: torch.nn.Module | None = None,
    distill: float = 0.0,
    stop_epoch: int | None = None,
    resume: dict[str, Any] | None = None,
) -> tuple[dict[str, float], dict[str, Any] | None]:
    """Cross-entropy training with a tqdm bar over epochs; raises TrainingError on divergence.

    Returns the last epoch's figures and, when the schedule stopped early, the state to
    resume it from. ``stop_epoch`` = k < ``epochs``: run only the first k epochs of the
    ``epochs``-long schedule (the learning rate follows the full schedule) and return
    the optimiser's, scheduler's and generator's state with the figures. ``resume``: such
    a state; training continues at its epoch (the module already holds its weights), so
    stopping at k and resuming gives the very network of one uninterrupted run: a
    low-fidelity design point promoted to full fidelity trains only what it lacks.

    ``augment``: apply the dataset's augmentation (``data.augment``) to training batches.
    With a ``teacher`` and ``distill`` = a > 0 the loss is (1 - a) cross-entropy + a
    KL(teacher || student) on softened logits (temperature ``DISTILL_TEMPERATURE``, times
    its square; Hinton et al. 2015): knowledge distillation from the network fine-tuned.

    Trains on ``device`` (auto: the GPU when there is one) and returns the module on the
    CPU, where the simulators and the stage cache expect it. Batches are drawn on the CPU
    with ``generator``, so the data order is the same on every device.
    """
    from tqdm import tqdm

    from dse.api.data import batches
    from dse.builtin.training._common import resolve_device

    target = torch.device(resolve_device(device))
    module.to(target)
    if teacher is not None and distill > 0:
        teacher = teacher.to(target).eval()
    else:
        teacher = None

    params = [p for p in module.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0
        )
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
        if lr_schedule == "cosine"
        else None
    )
    start = 0
    if resume is not None:
        start = int(resume["epoch"])
        opt.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        if sched is not None:
            sched.load_state_dict(resume["scheduler"])
    stop = epochs if stop_epoch is None else min(int(stop_epoch), epochs)
    # Chance-level cross-entropy is ln(C); a loss 50x above it has clearly diverged.
    limit = 50.0 * math.log(max(data.num_classes, 2))
    info = {"loss": float("nan"), "train_accuracy": float("nan"), "epochs": 0.0}
    # One bar over every batch of every epoch: its ETA is meaningful from the first epoch on.
    per_epoch = math.ceil(len(data.train) / batch_size)
    bar = tqdm(total=max(stop - start, 0) * per_epoch, desc=desc, unit="batch", leave=False)
    for epoch in range(start, stop):
        module.train()
        bar.set_description(f"{desc} epoch {epoch + 1}/{epochs}")
        total, correct, loss_sum = 0, 0, 0.0
        for x, y in batches(
            data.train,
            batch_size,
            shuffle=True,
            generator=generator,
            augment=data.augment if augment else None,
        ):
            x, y = x.to(target, non_blocking=True), y.to(target, non_blocking=True)
            logits = module(x)
            loss = F.cross_entropy(logits, y)
            if teacher is not None:
                loss = (1 - distill) * loss + distill * _distillation(logits, teacher, x)
            value = float(loss.detach())
            if not math.isfinite(value) or value > limit:
                bar.close()
                raise TrainingError(
                    f"{desc}: loss became {value:.4g} in epoch {epoch + 1} (diverged); "
                    f"lower training.lr (now {lr:g}) or use training.optimizer=adam"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += value * len(y)
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
            bar.update()
        if sched is not None:
            sched.step()
        info = {
            "loss": loss_sum / max(total, 1),
            "train_accuracy": 100.0 * correct / max(total, 1),
            "epochs": float(epoch + 1),
        }
        bar.set_postfix(loss=f"{info['loss']:.4f}", acc=f"{info['train_accuracy']:.1f}")
    bar.close()
    module.to("cpu")
    module.eval()
    if teacher is not None:
        teacher.to("cpu")
    if stop >= epochs:
        return info, None
    # tensors and plain values only: the stage cache reads them back with weights_only
    state = {
        "epoch": stop,
        "optimizer": _to_cpu(opt.state_dict()),
        "scheduler": sched.state_dict() if sched is not None else None,
        "generator": generator.get_state(),
    }
    return info, state


def _to_cpu(value: Any) -> Any:
    """An optimiser state with every tensor on the CPU (the cache's device)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu")
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


DISTILL_TEMPERATURE = 4.0


def _distillation(logits: torch.Tensor, teacher: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) of the temperature-softened outputs, times T^2."""
    t = DISTILL_TEMPERATURE
    with torch.no_grad():
        soft = F.log_softmax(teacher(x.to(next(teacher.parameters()).dtype)).float() / t, dim=1)
    student = F.log_softmax(logits.float() / t, dim=1)
    return F.kl_div(student, soft, reduction="batchmean", log_target=True) * t * t
