"""ANN-to-SNN conversion on digits: CAT + ttfs_log is exact; standard conversion loses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dse.api.interfaces import DataSplits, TrainedNetwork
from dse.api.network import WeightedLayer, fold_batch_norm
from dse.builtin.codings import RateCoding, TTFSLogCoding
from dse.builtin.datasets.digits import Digits
from dse.builtin.models.small_cnn import SmallCNN
from dse.builtin.quantizers import LogQuantizer
from dse.builtin.training import ConversionAwareTraining, StandardTraining

WIDE = {"accumulator_bits": 48, "frac_bits": 40}  # no truncation, no saturation


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return Digits().load()


@pytest.fixture(scope="module")
def cat_ttfs(digits: DataSplits) -> tuple[TrainedNetwork, TTFSLogCoding, LogQuantizer]:
    coding = TTFSLogCoding(time_window=8, **WIDE)
    quantizer = LogQuantizer(5)
    arch = SmallCNN().build(digits.input_shape, digits.num_classes)
    ann = ConversionAwareTraining(epochs=8).fit(arch, digits, quantizer, coding, seed=0)
    return ann, coding, quantizer


def _ann_accuracy(ann: TrainedNetwork, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return 100.0 * float((ann.module(x).argmax(1) == y).float().mean())


def test_cat_ttfs_conversion_is_lossless_on_the_whole_test_split(cat_ttfs, digits) -> None:  # noqa: ANN001
    ann, coding, quantizer = cat_ttfs
    snn = coding.convert(ann, quantizer, digits.train)
    result = coding.simulate(snn, digits.test)
    with torch.no_grad():
        ann_pred = ann.module(digits.test.x).argmax(1)
    assert torch.equal(torch.as_tensor(result.predictions), ann_pred)
    assert result.accuracy == _ann_accuracy(ann, digits.test.x, digits.test.y)
    assert result.accuracy > 90.0
    assert len(result.activity) == len(ann.architecture.layer_names())


def test_every_spike_time_is_the_one_the_ann_activation_implies(cat_ttfs, digits) -> None:  # noqa: ANN001
    ann, coding, quantizer = cat_ttfs
    snn = coding.convert(ann, quantizer, digits.train)
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        trace = ann.module.trace(x)
    out = coding.run(snn, x)
    T = coding.time_window
    checked = 0
    for i, times in enumerate(out["times"]):
        if times is None:
            continue
        a = trace[i]  # theta = 1: a = 2^-t or 0
        implied = torch.where(a > 0, -torch.log2(a.clamp_min(1e-300)), torch.full_like(a, T))
        assert torch.equal(times.to(torch.float64), implied), f"layer {i}"
        checked += 1
    assert checked == 4  # conv1, conv2, pool, conv3
    logits = trace[-1]
    assert torch.allclose(out["potential"] * 2.0**-coding.frac_bits, logits, atol=2.0**-38, rtol=0)


def test_narrow_accumulator_changes_results(cat_ttfs, digits) -> None:  # noqa: ANN001
    ann, coding, quantizer = cat_ttfs
    wide = coding.simulate(coding.convert(ann, quantizer, digits.train), digits.test)
    rows = []
    for acc_bits, frac_bits in [(16, 12), (12, 8), (10, 7), (9, 7)]:
        narrow = TTFSLogCoding(time_window=8, accumulator_bits=acc_bits, frac_bits=frac_bits)
        r = narrow.simulate(narrow.convert(ann, quantizer, digits.train), digits.test)
        changed = int((torch.as_tensor(r.predictions) != torch.as_tensor(wide.predictions)).sum())
        rows.append((acc_bits, frac_bits, r.accuracy, changed))
    print("\naccumulator bits / frac bits -> accuracy, predictions changed vs 48/40")
    for row in rows:
        print(f"  {row[0]:>2} / {row[1]:>2}: {row[2]:6.2f} %  {row[3]:>3}")
    # the narrowest accumulator (sign + 1 integer bit + 7 fractional bits) saturates and
    # truncates: some predictions change, and accuracy does not improve
    assert rows[-1][3] > 0 and rows[-1][2] <= wide.accuracy


@pytest.mark.slow
def test_cat_removes_the_conversion_loss_at_low_precision(digits) -> None:  # noqa: ANN001
    arch = SmallCNN().build(digits.input_shape, digits.num_classes)
    quantizer = LogQuantizer(3)
    standard = StandardTraining(epochs=10).fit(arch, digits, quantizer, TTFSLogCoding(), seed=0)
    rows = []
    for coding in (TTFSLogCoding(time_window=3), RateCoding(time_window=4)):
        cat = ConversionAwareTraining(epochs=10).fit(arch, digits, quantizer, coding, seed=0)
        for name, ann in (("standard", standard), ("cat", cat)):
            ann_acc = _ann_accuracy(ann, digits.test.x, digits.test.y)
            snn = coding.simulate(coding.convert(ann, quantizer, digits.train), digits.test)
            rows.append((type(coding).__name__, name, ann_acc, snn.accuracy))
    print("\n3-bit log weights on digits: coding, training, ANN %, SNN %, conversion loss")
    for c, t, a, s in rows:
        print(
            f"  {c:<14} T={3 if c.startswith('TTFS') else 4} {t:<9} {a:6.2f} {s:6.2f} {a - s:6.2f}"
        )
    loss = {(c, t): a - s for c, t, a, s in rows}
    for c in ("TTFSLogCoding", "RateCoding"):
        assert loss[(c, "cat")] <= loss[(c, "standard")]
    assert loss[("TTFSLogCoding", "standard")] > 2.0  # measurable
    assert loss[("TTFSLogCoding", "cat")] == 0.0  # lossless


def test_batch_norm_is_folded(digits) -> None:  # noqa: ANN001
    arch = SmallCNN(batch_norm=True).build(digits.input_shape, digits.num_classes)
    coding, quantizer = TTFSLogCoding(**WIDE), LogQuantizer(5)
    # CAT folds batch norm in the loop: the SNN still reproduces the ANN exactly
    ann = ConversionAwareTraining(epochs=2).fit(arch, digits, quantizer, coding, seed=0)
    bn = [m.bn for m in ann.module.layers if isinstance(m, WeightedLayer) and m.bn is not None]
    assert len(bn) == 3 and not torch.all(bn[0].running_var == 1)  # statistics were learnt
    result = coding.simulate(coding.convert(ann, quantizer, digits.train), digits.test)
    with torch.no_grad():
        assert torch.equal(torch.as_tensor(result.predictions), ann.module(digits.test.x).argmax(1))
    # standard training keeps a BatchNorm layer; the folded parameters compute the same
    std = StandardTraining(epochs=2).fit(arch, digits, quantizer, coding, seed=0)
    params = fold_batch_norm(std.module)
    x = digits.test.x[:32].double()
    h = x
    for p, fires in zip(params, std.module.fires, strict=True):
        spec = type(p.spec).__name__
        if spec == "Conv2d":
            h = F.conv2d(h, p.weight, p.bias, p.spec.stride, p.spec.padding)
        elif spec == "Linear":
            h = F.linear(h, p.weight, p.bias)
        elif spec == "MaxPool2d":
            h = F.max_pool2d(h, p.spec.kernel, p.spec.stride)
        elif spec == "Flatten":
            h = h.flatten(1)
        h = torch.relu(h) if fires else h
    with torch.no_grad():
        assert torch.allclose(h.float(), std.module(x.float()), atol=1e-4)
