"""One contract suite per plugin kind: what the orchestrator relies on, checked.

Every failure message names the plugin, what it did and what it must do instead. The
suites that need a trained network (training, coding) build it once per test class
(a class-scoped fixture) from the built-in plugins around the one under test, on
scikit-learn's bundled digits, for one epoch: a suite runs in seconds.
"""

from __future__ import annotations

import dataclasses
import json
import math
from abc import ABC, abstractmethod
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from dse.api.architecture import Architecture, static_workload
from dse.api.interfaces import (
    PLUGIN_KINDS,
    Accumulator,
    Dataset,
    DataSplits,
    HardwareModel,
    HardwareReport,
    ModelBuilder,
    SimulationResult,
    SpikeCoding,
    Split,
    TrainedNetwork,
    TrainingMethod,
    WeightQuantizer,
)
from dse.testing._helpers import builtin_plugin, digits, example_workload, head, no_network

if TYPE_CHECKING:
    import torch


def _name(plugin: object) -> str:
    return type(plugin).__name__


def _weights() -> torch.Tensor:
    import torch

    generator = torch.Generator().manual_seed(0)
    return torch.randn(16, 8, 3, 3, generator=generator) * 0.3


# --------------------------------------------------------------------------- quantizer


class WeightQuantizerContract(ABC):
    """What every weight quantizer promises the training methods, codings and hardware."""

    @abstractmethod
    def make_quantizer(self) -> WeightQuantizer:
        """Return the quantizer under test."""

    def test_implements_the_interface(self) -> None:
        q = self.make_quantizer()
        assert isinstance(q, WeightQuantizer), f"{_name(q)} does not subclass WeightQuantizer"
        assert q.format in ("float", "uniform", "log"), (
            f"{_name(q)}.format is {q.format!r}; it must be 'float', 'uniform' or 'log' (what "
            "the hardware model may assume of the stored values, docs/PLUGINS.md)"
        )
        bits = q.storage_bits
        assert isinstance(bits, int) and 1 <= bits <= 64, (
            f"{_name(q)}.storage_bits is {bits!r}; it must be an int in 1..64 (bits per stored "
            "weight, as the hardware prices them)"
        )

    def test_shape_and_dtype_are_kept_and_the_input_left_alone(self) -> None:
        w = _weights()
        before = w.clone()
        q = self.make_quantizer()
        out = q.quantize(w)
        assert out.shape == w.shape and out.dtype == w.dtype, (
            f"{_name(q)}.quantize changed shape/dtype {tuple(w.shape)}/{w.dtype} into "
            f"{tuple(out.shape)}/{out.dtype}; return a tensor like its input"
        )
        assert bool((w == before).all()), (
            f"{_name(q)}.quantize modified its input in place; return a quantized copy"
        )

    def test_quantizing_twice_changes_nothing(self) -> None:
        q = self.make_quantizer()
        once = q.quantize(_weights())
        twice = q.quantize(once)
        changed = twice != once
        n = int(changed.sum())
        example = ""
        if n:
            i = int(changed.flatten().nonzero()[0])
            example = f" (e.g. {float(once.flatten()[i]):.6g} -> {float(twice.flatten()[i]):.6g})"
        assert n == 0, (
            f"{_name(q)}.quantize is not idempotent: quantizing its own output changed {n} of "
            f"{once.numel()} weights{example}; values of the level set must come back unchanged"
        )

    def test_signs_are_kept_or_zeroed(self) -> None:
        w = _weights()
        q = self.make_quantizer()
        out = q.quantize(w)
        flipped = int(((out != 0) & (out.sign() != w.sign())).sum())
        assert flipped == 0, (
            f"{_name(q)}.quantize flipped the sign of {flipped} weights; a quantized weight "
            "keeps its sign or becomes 0"
        )

    def test_zero_weights_stay_zero(self) -> None:
        import torch

        q = self.make_quantizer()
        out = q.quantize(torch.zeros(4, 3, 3, 3))
        assert bool((out == 0).all()) and bool(out.isfinite().all()), (
            f"{_name(q)}.quantize of an all-zero layer returned nonzero or non-finite values "
            "(a scale of 0 divided by?); return zeros"
        )

    def test_values_fit_the_declared_format_and_storage_bits(self) -> None:
        import torch

        q = self.make_quantizer()
        out = q.quantize(_weights()).to(torch.float64)
        if q.format == "float":
            return
        # per output channel: a per-channel scale is allowed, a per-weight one is not
        for c, channel in enumerate(out.reshape(out.shape[0], -1)):
            levels = channel.unique().numel()
            assert levels <= 2**q.storage_bits, (
                f"{_name(q)} produced {levels} distinct values in output channel {c}, more "
                f"than storage_bits={q.storage_bits} can hold ({2**q.storage_bits})"
            )
            mags = channel.abs()[channel != 0].unique()
            if mags.numel() == 0:
                continue
            if q.format == "log":  # +-s 2^-e: every ratio to the largest is a power of two
                exps = torch.log2(mags.max() / mags)
                assert torch.allclose(exps, exps.round(), atol=1e-6), (
                    f"{_name(q)}.format is 'log' but channel {c} holds magnitudes that are not "
                    f"a scale times powers of two ({mags[:4].tolist()}); the hardware prices "
                    "'log' weights as shifts: use 'uniform' for values on a uniform grid"
                )
            else:  # uniform: +-k s, k integer
                grid = torch.cat([torch.zeros(1, dtype=mags.dtype), mags])
                step = grid.diff().min()
                k = mags / step
                assert torch.allclose(k, k.round(), rtol=0, atol=1e-3), (
                    f"{_name(q)}.format is 'uniform' but channel {c} holds values that are not "
                    f"integer multiples of one step ({mags[:4].tolist()}); declare the format "
                    "the values follow (docs/PLUGINS.md, 'format')"
                )

    def test_fake_quantize_is_straight_through(self) -> None:
        q = self.make_quantizer()
        w = _weights().requires_grad_(True)
        out = q.fake_quantize(w)
        assert bool((out.detach() == q.quantize(w.detach())).all()), (
            f"{_name(q)}.fake_quantize's forward pass differs from quantize(); CAT would train "
            "on other weights than the SNN gets"
        )
        out.sum().backward()
        assert w.grad is not None and bool((w.grad == 1).all()), (
            f"{_name(q)}.fake_quantize's gradient is not 1 everywhere (straight-through); "
            "keep the inherited fake_quantize or return quantize(w.detach()) + (w - w.detach())"
        )


# --------------------------------------------------------------------------- hardware


class HardwareModelContract(ABC):
    """What every hardware model promises the orchestrator (see dse/api/workload.py)."""

    @abstractmethod
    def make_model(self) -> HardwareModel:
        """Return the hardware model under test."""

    def _priced(self, workload: Any) -> HardwareReport:
        model = self.make_model()
        report = model.estimate(workload)
        assert isinstance(report, HardwareReport), (
            f"{_name(model)}.estimate returned {type(report).__name__}, not a HardwareReport"
        )
        return report

    def test_report_is_typed_and_consistent(self) -> None:
        workload = example_workload()
        report = self._priced(workload)
        name = _name(self.make_model())
        for key in ("energy_uj", "latency_ms", "area_mm2"):
            value = getattr(report, key)
            assert math.isfinite(value) and value > 0, (
                f"{name}: {key} = {value!r} for a workload with spikes; it must be finite and > 0"
            )
        assert math.isclose(report.energy_uj, report.breakdown.total_uj, rel_tol=1e-9), (
            f"{name}: energy_uj {report.energy_uj} != breakdown.total_uj "
            f"{report.breakdown.total_uj}; the components must add up to the total"
        )
        layer_total = sum(layer.energy.total_uj for layer in report.layers)
        assert math.isclose(layer_total, report.energy_uj, rel_tol=1e-6), (
            f"{name}: the layers' energies add up to {layer_total}, not energy_uj "
            f"{report.energy_uj}"
        )
        got = [layer.name for layer in report.layers]
        want = [layer.name for layer in workload.layers]
        assert got == want, (
            f"{name}: report.layers are {got}; one LayerCost per workload layer {want}"
        )
        assert 0.0 <= report.pe_utilization <= 1.0, (
            f"{name}: pe_utilization = {report.pe_utilization}, outside 0..1"
        )
        for key, value in dataclasses.asdict(report.breakdown).items():
            assert math.isfinite(value) and value >= 0, (
                f"{name}: breakdown.{key} = {value!r}; energies are finite and >= 0"
            )

    def test_a_silent_network_is_priced(self) -> None:
        report = self._priced(example_workload(spike_rate=0.0))
        name = _name(self.make_model())
        values = {
            "energy_uj": report.energy_uj,
            "latency_ms": report.latency_ms,
            "area_mm2": report.area_mm2,
            "pj_per_synop": report.pj_per_synop,
            "pe_utilization": report.pe_utilization,
        }
        bad = {k: v for k, v in values.items() if not (math.isfinite(v) and v >= 0)}
        assert not bad, (
            f"{name}: with no spikes at all the report holds {bad}; every figure must stay "
            "finite and >= 0 (no negative terms; guard divisions by spike or operation counts)"
        )

    def test_is_deterministic_and_leaves_the_workload_alone(self) -> None:
        workload = example_workload()
        before = workload.to_dict()
        model = self.make_model()
        assert model.estimate(workload) == model.estimate(workload), (
            f"{_name(model)}.estimate gave two different reports for the same workload"
        )
        assert workload.to_dict() == before, f"{_name(model)}.estimate modified its workload"

    def test_more_activity_never_costs_less(self) -> None:
        model = self.make_model()
        quiet = model.estimate(example_workload(spike_rate=0.05)).energy_uj
        busy = model.estimate(example_workload(spike_rate=0.5)).energy_uj
        assert busy >= quiet, f"{_name(model)}: 10x the spikes cost {busy} uJ, less than {quiet} uJ"


# --------------------------------------------------------------------------- model


class ModelBuilderContract(ABC):
    """What every model builder promises: an Architecture that fits its input."""

    input_shape: tuple[int, int, int] = (1, 8, 8)
    num_classes: int = 10

    @abstractmethod
    def make_builder(self) -> ModelBuilder:
        """Return the model builder under test."""

    def test_builds_a_valid_architecture(self) -> None:
        builder = self.make_builder()
        arch = builder.build(self.input_shape, self.num_classes)
        name = _name(builder)
        assert isinstance(arch, Architecture), (
            f"{name}.build returned {type(arch).__name__}, not a dse.architecture.Architecture"
        )
        assert tuple(arch.input_shape) == tuple(self.input_shape), (
            f"{name}.build({self.input_shape}, {self.num_classes}) describes a network for input "
            f"{arch.input_shape}; build for the input shape you are given"
        )
        assert arch.shapes()[-1][1] == (self.num_classes,), (
            f"{name}.build: the read-out has {arch.shapes()[-1][1]} outputs, not "
            f"({self.num_classes},)"
        )

    def test_is_deterministic(self) -> None:
        builder = self.make_builder()
        first = builder.build(self.input_shape, self.num_classes)
        assert first == builder.build(self.input_shape, self.num_classes), (
            f"{_name(builder)}.build described two different networks for the same input"
        )

    def test_every_workload_layer_is_named_and_sized(self) -> None:
        builder = self.make_builder()
        arch = builder.build(self.input_shape, self.num_classes)
        workload = static_workload(
            arch, weight_bits=8, weight_format="uniform", coding="x", time_window=4,
            accumulator_bits=16,
        )  # fmt: skip
        names = [layer.name for layer in workload.layers]
        assert len(set(names)) == len(names), f"{_name(builder)}: layer names repeat: {names}"
        for layer in workload.layers:
            assert layer.neurons >= 1 and layer.fan_in >= 1, (
                f"{_name(builder)}: layer {layer.name} has {layer.neurons} neurons and fan-in "
                f"{layer.fan_in}; every layer must compute something"
            )


# --------------------------------------------------------------------------- dataset


def _check_split(name: str, split_name: str, split: Split, data: DataSplits) -> None:
    import torch

    x, y = split.x, split.y
    n = len(split)
    where = f"{name}.load().{split_name}"
    assert n >= 1, f"{where} is empty"
    assert tuple(x.shape) == (n, *data.input_shape), (
        f"{where}.x has shape {tuple(x.shape)}; expected (N, C, H, W) = "
        f"({n}, {', '.join(map(str, data.input_shape))}) with N = len(y)"
    )
    assert x.dtype in (torch.float32, torch.uint8), (
        f"{where}.x is {x.dtype}; use float32 in [0, 1] or uint8 in [0, 255]"
    )
    if x.dtype == torch.float32:
        lo, hi = float(x.min()), float(x.max())
        assert 0.0 <= lo and hi <= 1.0, f"{where}.x spans [{lo}, {hi}]; float pixels are in [0, 1]"
    assert y.dtype == torch.int64 and y.dim() == 1, (
        f"{where}.y is {y.dtype} with shape {tuple(y.shape)}; labels are int64 class indices, (N,)"
    )
    lo, hi = int(y.min()), int(y.max())
    assert 0 <= lo and hi < data.num_classes, (
        f"{where}.y holds labels {lo}..{hi}; they must be in 0..num_classes-1 = "
        f"0..{data.num_classes - 1}"
    )


class DatasetContract(ABC):
    """What every dataset promises: typed in-memory splits, read locally, the same every time.

    ``load()`` runs with network access blocked: a dataset that tries to download fails.
    """

    @abstractmethod
    def make_dataset(self) -> Dataset:
        """Return the dataset under test (point it at small local files)."""

    @pytest.fixture(scope="class")
    @classmethod
    def loaded(cls) -> DataSplits:
        dataset = cls().make_dataset()
        with no_network(f"{_name(dataset)}.load()"):
            return dataset.load()

    def test_implements_the_interface(self) -> None:
        dataset = self.make_dataset()
        assert isinstance(dataset, Dataset), f"{_name(dataset)} does not subclass Dataset"
        check = getattr(dataset, "check", None)
        if check is not None:
            with no_network(f"{_name(dataset)}.check()"):
                check()  # a DatasetError here: the files the suite was given do not pass

    def test_splits_are_typed_and_shaped(self, loaded: DataSplits) -> None:
        name = _name(self.make_dataset())
        assert isinstance(loaded, DataSplits), (
            f"{name}.load returned {type(loaded).__name__}, not dse.interfaces.DataSplits"
        )
        assert loaded.num_classes >= 2, f"{name}: num_classes = {loaded.num_classes}, need >= 2"
        assert len(loaded.input_shape) == 3, (
            f"{name}: input_shape {loaded.input_shape} is not (C, H, W)"
        )
        for split_name in ("train", "val", "test"):
            _check_split(name, split_name, getattr(loaded, split_name), loaded)
        classes = int(loaded.train.y.unique().numel())
        assert classes >= 2, f"{name}: the training split holds {classes} class; nothing to learn"

    def test_load_is_deterministic(self, loaded: DataSplits) -> None:
        import torch

        dataset = self.make_dataset()
        with no_network(f"{_name(dataset)}.load()"):
            again = dataset.load()
        for split_name in ("train", "val", "test"):
            a, b = getattr(loaded, split_name), getattr(again, split_name)
            same = a.x.shape == b.x.shape and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
            assert same, (
                f"{_name(dataset)}.load gave a different {split_name} split the second time; "
                "seed every shuffle and split (the stage cache relies on it)"
            )

    def test_augment_keeps_the_batch_shape(self, loaded: DataSplits) -> None:
        import torch

        if loaded.augment is None:
            return
        from dse.api.data import to_float

        x = to_float(loaded.train.x[:8])
        out = loaded.augment(x, torch.Generator().manual_seed(0))
        assert out.shape == x.shape and out.dtype == x.dtype, (
            f"{_name(self.make_dataset())}: augment turned a {tuple(x.shape)} {x.dtype} batch "
            f"into {tuple(out.shape)} {out.dtype}"
        )


# --------------------------------------------------------------------------- training


class TrainingMethodContract(ABC):
    """What every training method promises: a deterministic network for the architecture,
    whose weights the stage cache can store and load back.

    The method is trained once per test class on digits (``small_cnn``, 5-bit log weights,
    ``ttfs_log``); make it fast (``epochs=1``). Override ``make_quantizer`` /
    ``make_coding`` to train with others.
    """

    @abstractmethod
    def make_method(self) -> TrainingMethod:
        """Return the training method under test, configured to train briefly."""

    def make_quantizer(self) -> WeightQuantizer:
        return builtin_plugin("quantizer", "log")

    def make_coding(self) -> SpikeCoding:
        return builtin_plugin("coding", "ttfs_log")

    def _fit(self, method: TrainingMethod) -> SimpleNamespace:
        data = head(digits(), 128)
        arch = builtin_plugin("model", "small_cnn").build(data.input_shape, data.num_classes)
        quantizer, coding = self.make_quantizer(), self.make_coding()
        init = None
        pre = method.pretraining()
        if pre is not None:
            init = pre.fit(arch, data, quantizer, coding, seed=0)
        net = method.fit(arch, data, quantizer, coding, seed=0, init=init)
        return SimpleNamespace(
            method=method, data=data, arch=arch, quantizer=quantizer, coding=coding, net=net
        )

    @pytest.fixture(scope="class")
    @classmethod
    def trained(cls) -> SimpleNamespace:
        suite = cls()
        return suite._fit(suite.make_method())

    def test_implements_the_interface(self) -> None:
        method = self.make_method()
        name = _name(method)
        assert isinstance(method, TrainingMethod), f"{name} does not subclass TrainingMethod"
        allowed = set(PLUGIN_KINDS) - {"dataset", "model", "training"}
        unknown = set(method.depends_on) - allowed
        assert not unknown, (
            f"{name}.depends_on names {sorted(unknown)}; it lists config groups among "
            f"{sorted(allowed)} (dataset, model and training always count)"
        )
        pre = method.pretraining()
        assert pre is None or isinstance(pre, TrainingMethod), (
            f"{name}.pretraining() returned {type(pre).__name__}; return a TrainingMethod or None"
        )

    def test_returns_the_network_of_the_architecture(self, trained: SimpleNamespace) -> None:
        import torch

        name, net, data = _name(trained.method), trained.net, trained.data
        assert isinstance(net, TrainedNetwork), (
            f"{name}.fit returned {type(net).__name__}, not a TrainedNetwork"
        )
        assert net.architecture == trained.arch, (
            f"{name}.fit returned a network for another architecture; keep the one it was given"
        )
        assert isinstance(net.conversion_aware, bool), (
            f"{name}: conversion_aware is {net.conversion_aware!r}, not a bool"
        )
        json.dumps(net.info, default=str)  # the cache stores it as JSON
        net.module.eval()
        with torch.no_grad():
            logits = net.module(data.val.x)
        assert tuple(logits.shape) == (len(data.val), data.num_classes), (
            f"{name}: the trained module maps {tuple(data.val.x.shape)} to "
            f"{tuple(logits.shape)}; it must return logits (N, {data.num_classes})"
        )
        assert bool(logits.isfinite().all()), f"{name}: the trained module returns NaN or inf"

    def test_is_deterministic_for_a_seed(self, trained: SimpleNamespace) -> None:
        import torch

        again = self._fit(self.make_method()).net
        first = trained.net.module.state_dict()
        second = again.module.state_dict()
        differ = [k for k in first if k not in second or not torch.equal(first[k], second[k])]
        assert not differ, (
            f"{_name(trained.method)}.fit with seed 0 trained different weights twice "
            f"({', '.join(differ[:4])}); seed every random draw from the seed argument"
        )

    def test_untrained_module_loads_the_trained_weights(self, trained: SimpleNamespace) -> None:
        import torch

        method, net = trained.method, trained.net
        module = method.untrained(trained.arch, trained.quantizer, trained.coding)
        if module is None:
            pytest.skip(f"{_name(method)}.untrained returns None: its networks are not cached")
        state = net.module.state_dict()
        # as the stage cache loads them: into untrained(), cast to the weights' dtype
        dtypes = [t.dtype for t in state.values() if t.is_floating_point()]
        if dtypes:
            module = module.to(dtypes[0])
        missing, unexpected = module.load_state_dict(state, strict=False)
        assert not missing and not unexpected, (
            f"{_name(method)}.untrained() is not the module fit() returns: missing "
            f"{list(missing)[:4]}, unexpected {list(unexpected)[:4]}; the cache loads weights "
            "into it"
        )
        module.eval()
        net.module.eval()
        x = trained.data.val.x[:32]
        with torch.no_grad():
            same = torch.equal(module(x), net.module(x))
        assert same, (
            f"{_name(method)}: the untrained module with the trained weights computes other "
            "logits than the trained module; keep all state in parameters and buffers"
        )


# --------------------------------------------------------------------------- coding


class SpikeCodingContract(ABC):
    """What every spike coding promises: the SNN it simulates computes the network CAT
    trained with its activation, and its activity covers every workload layer, in the
    units of dse.interfaces.LayerActivity (docs/PLUGINS.md).

    A network is trained once per test class (built-in ``training=cat``, one epoch, on
    digits, ``small_cnn``, 5-bit log weights) and simulated on ``samples`` test images.
    ``agreement`` is the share of predictions that must match the CAT network's: 1.0 for a
    coding whose SNN is the CAT network exactly (ttfs_log); a coding with temporal error
    (rate) states the share it guarantees.
    """

    agreement: ClassVar[float] = 1.0
    samples: ClassVar[int] = 128

    @abstractmethod
    def make_coding(self) -> SpikeCoding:
        """Return the coding under test."""

    def make_quantizer(self) -> WeightQuantizer:
        return builtin_plugin("quantizer", "log")

    def make_training(self) -> TrainingMethod:
        return builtin_plugin("training", "cat", epochs=1)

    @pytest.fixture(scope="class")
    @classmethod
    def simulated(cls) -> SimpleNamespace:
        import torch

        suite = cls()
        data = head(digits(), cls.samples)
        arch = builtin_plugin("model", "small_cnn").build(data.input_shape, data.num_classes)
        coding, quantizer = suite.make_coding(), suite.make_quantizer()
        coding.check_architecture(arch)
        ann = suite.make_training().fit(arch, data, quantizer, coding, seed=0)
        snn = coding.convert(ann, quantizer, data.train)
        result = coding.simulate(snn, data.test)
        ann.module.eval()
        with torch.no_grad():
            expected = ann.module(data.test.x).argmax(1)
        return SimpleNamespace(
            coding=coding, quantizer=quantizer, data=data, arch=arch, ann=ann, snn=snn,
            result=result, expected=expected,
        )  # fmt: skip

    def test_implements_the_interface(self) -> None:
        import torch

        coding = self.make_coding()
        name = _name(coding)
        assert isinstance(coding, SpikeCoding), f"{name} does not subclass SpikeCoding"
        assert isinstance(coding.time_window, int) and coding.time_window >= 1, (
            f"{name}.time_window is {coding.time_window!r}; an int >= 1 (time steps)"
        )
        bits = coding.accumulator_bits
        assert isinstance(bits, int) and bits >= 2, (
            f"{name}.accumulator_bits is {bits!r}; an int >= 2 (membrane-potential width)"
        )
        assert isinstance(coding.activation(), torch.nn.Module), (
            f"{name}.activation() must return a torch.nn.Module"
        )
        encoder = coding.input_encoder()
        assert encoder is None or isinstance(encoder, torch.nn.Module), (
            f"{name}.input_encoder() must return a torch.nn.Module or None"
        )
        for first in (True, False):
            acc = coding.accumulator(first)
            assert acc is None or isinstance(acc, Accumulator), (
                f"{name}.accumulator({first}) must return a dse.interfaces.Accumulator or None"
            )

    def test_activation_outputs_spike_values_with_a_straight_through_gradient(self) -> None:
        import torch

        coding = self.make_coding()
        act = coding.activation()
        x = torch.linspace(-1.0, 2.0, 301, requires_grad=True)
        y = act(x)
        name = _name(coding)
        assert y.shape == x.shape and bool((y.detach() >= 0).all()), (
            f"{name}.activation() must keep the shape and return values >= 0 (spike values)"
        )
        assert torch.equal(act(y.detach()), y.detach()), (
            f"{name}.activation() changes its own outputs: the values a spike represents must "
            "be fixed points of the activation"
        )
        y.sum().backward()
        assert x.grad is not None and bool((x.grad[x.detach() < 0] == 0).all()), (
            f"{name}.activation(): negative inputs must get gradient 0 (clipped identity)"
        )
        assert bool((x.grad > 0).any()), (
            f"{name}.activation() passes no gradient anywhere; CAT cannot train through it"
        )

    def test_snn_computes_what_the_cat_network_computes(self, simulated: SimpleNamespace) -> None:
        import torch

        got = torch.as_tensor(simulated.result.predictions).to(torch.int64)
        want = simulated.expected
        name = _name(simulated.coding)
        assert tuple(got.shape) == tuple(want.shape), (
            f"{name}.simulate returned {tuple(got.shape)} predictions for {len(want)} samples"
        )
        differ = (got != want).nonzero().flatten().tolist()
        share = 1.0 - len(differ) / max(len(want), 1)
        first = ""
        if differ:
            i = differ[0]
            first = f" (first: sample {i}: CAT network class {int(want[i])}, SNN {int(got[i])})"
        assert share >= self.agreement, (
            f"{name}: the SNN (convert + simulate) predicts differently from the CAT network it "
            f"was converted from on {len(differ)} of {len(want)} samples{first}; required "
            f"agreement {self.agreement:.0%}. activation(), input_encoder() and accumulator() "
            "must give CAT exactly the values the simulated neurons produce"
        )

    def test_accuracy_is_counted_from_the_predictions(self, simulated: SimpleNamespace) -> None:
        import torch

        result: SimulationResult = simulated.result
        y = simulated.data.test.y
        expected = 100.0 * float((torch.as_tensor(result.predictions) == y).float().mean())
        assert math.isclose(result.accuracy, expected, abs_tol=1e-9), (
            f"{_name(simulated.coding)}.simulate reports accuracy {result.accuracy}, but its "
            f"predictions are {expected} % correct; accuracy is top-1 in percent"
        )

    def test_activity_covers_every_workload_layer(self, simulated: SimpleNamespace) -> None:
        names = simulated.arch.layer_names()
        activity = simulated.result.activity
        assert len(activity) == len(names), (
            f"{_name(simulated.coding)}.simulate returned activity for {len(activity)} layers; "
            f"the workload has {len(names)}: {', '.join(names)} (one LayerActivity per conv, "
            "linear and pooling layer, in order; none for Flatten)"
        )

    def test_activity_follows_the_layer_activity_units(self, simulated: SimpleNamespace) -> None:
        coding, arch = simulated.coding, simulated.arch
        name = _name(coding)
        workload = static_workload(
            arch, weight_bits=5, weight_format="log", coding="x",
            time_window=coding.time_window, accumulator_bits=coding.accumulator_bits,
        )  # fmt: skip
        activity = simulated.result.activity
        if len(activity) != len(workload.layers):
            pytest.fail("activity does not cover every workload layer (see that test)")
        previous = None
        for layer, a in zip(workload.layers, activity, strict=True):
            where = f"{name}: layer {layer.name} ({layer.kind})"
            fields = dataclasses.asdict(a)
            bad = {k: v for k, v in fields.items() if not (math.isfinite(v) and v >= 0)}
            assert not bad, f"{where}: activity {bad}; every figure is finite and >= 0"
            assert 0 < a.time_steps <= coding.time_window, (
                f"{where}: time_steps = {a.time_steps}, outside 1..time_window={coding.time_window}"
            )
            if previous is not None:
                assert math.isclose(a.input_spikes, previous.output_spikes, rel_tol=1e-9), (
                    f"{where}: input_spikes = {a.input_spikes}, but the layer before emitted "
                    f"{previous.output_spikes} spikes; a layer's input spikes are its "
                    "predecessor's output spikes"
                )
            if not layer.fires:
                assert a.output_spikes == 0, (
                    f"{where}: the read-out does not fire, yet output_spikes = {a.output_spikes}"
                )
            assert a.output_spikes <= layer.neurons * a.time_steps + 1e-9, (
                f"{where}: output_spikes = {a.output_spikes} > neurons x time_steps = "
                f"{layer.neurons * a.time_steps}"
            )
            reach = 1 if layer.kind == "pool" else layer.neurons
            assert a.synops <= a.input_spikes * reach * (1 + 1e-9), (
                f"{where}: synops = {a.synops} > input_spikes x "
                f"{'1 (pool)' if layer.kind == 'pool' else 'neurons'} = {a.input_spikes * reach}"
            )
            previous = a
        first = activity[0]
        assert first.synops > 0 and first.input_spikes > 0, (
            f"{name}: the first layer received no input spikes on digits; is the input encoded?"
        )

    def test_simulation_is_deterministic(self, simulated: SimpleNamespace) -> None:
        import numpy as np

        again = simulated.coding.simulate(simulated.snn, simulated.data.test)
        first = simulated.result
        assert np.array_equal(np.asarray(again.predictions), np.asarray(first.predictions)), (
            f"{_name(simulated.coding)}.simulate predicted differently on a second run"
        )
        assert again.activity == first.activity, (
            f"{_name(simulated.coding)}.simulate measured different activity on a second run; "
            "seed every random draw (e.g. Poisson inputs) per call"
        )

    def test_converts_a_standard_network(self, simulated: SimpleNamespace) -> None:
        coding, quantizer, data, arch = (
            simulated.coding, simulated.quantizer, simulated.data, simulated.arch,
        )  # fmt: skip
        ann = builtin_plugin("training", "standard", epochs=1).fit(
            arch, data, quantizer, coding, seed=0
        )
        result = coding.simulate(coding.convert(ann, quantizer, data.train), data.test)
        assert len(result.activity) == len(arch.layer_names()), (
            f"{_name(coding)}: a standard (ReLU) network converted with threshold balancing "
            "simulates with activity for the wrong number of layers"
        )
        assert len(result.predictions) == len(data.test), (
            f"{_name(coding)}: simulating a converted standard network returned "
            f"{len(result.predictions)} predictions for {len(data.test)} samples"
        )
