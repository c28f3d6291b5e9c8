"""One design point: data -> train -> convert -> simulate -> estimate.

Stages 2-4 (train, convert + simulate) depend on a subset of the configuration only, so
each is keyed in the :class:`~dse.cache.StageCache` by a hash of exactly that subset:

* training: dataset, model, training, seed, plus the groups the training method lists
  in ``depends_on`` (CAT: quantizer and coding; standard training: none);
* simulation: the training key plus quantizer and coding.

Hardware parameters reach neither, so changing them only re-prices the cached workload.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dse.api.architecture import Architecture, static_workload
from dse.api.errors import PluginError
from dse.api.interfaces import (
    FULL_FIDELITY,
    LOW_FIDELITY,
    PLUGIN_KINDS,
    AccumulatorActivity,
    Dataset,
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
from dse.api.workload import Workload
from dse.point import cache as cache_mod
from dse.point import neurobench
from dse.point.guards import check_report, guard_quantizer
from dse.registry.schema import build_plugin

log = logging.getLogger(__name__)

SPLITS = ("val", "test")  # val is the search objective, test is reported
WARM_INDEX = "warm_index"  # stage cache entries <family>-<training key>: what warm starts find


@dataclass
class Plugins:
    dataset: Dataset
    model: ModelBuilder
    training: TrainingMethod
    quantizer: WeightQuantizer
    coding: SpikeCoding
    hardware: HardwareModel


def build_plugins(cfg: DictConfig) -> Plugins:
    """Check every plugin group against its class and instantiate it (cheap, no data)."""
    return Plugins(**{group: build_plugin(group, cfg[group]) for group in PLUGIN_KINDS})


@dataclass
class Measurement:
    """What simulating one split measured: cacheable as JSON."""

    ann_accuracy: float
    snn_accuracy: float
    workload: Workload
    accumulator: AccumulatorActivity | None = None  # what the fixed point lost, if measured

    def to_dict(self) -> dict:
        acc = self.accumulator
        return {
            "ann_accuracy": self.ann_accuracy,
            "snn_accuracy": self.snn_accuracy,
            "workload": self.workload.to_dict(),
            "accumulator": None if acc is None else dataclasses.asdict(acc),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        acc = data.get("accumulator")
        return cls(
            data["ann_accuracy"],
            data["snn_accuracy"],
            Workload.from_dict(data["workload"]),
            None if acc is None else AccumulatorActivity(**acc),
        )


@dataclass
class DesignPointResult:
    measurements: dict[str, Measurement]  # per split
    reports: dict[str, HardwareReport]  # per split
    cache_use: dict[str, str]  # stage -> "hit" | "miss" | "off"
    training_info: dict[str, Any] = field(default_factory=dict)
    zero_weights: list[int] | None = None  # per weighted layer of the converted network
    analog_input: bool = False  # the first layer sees multi-bit pixels (NeuroBench: MACs)

    @property
    def metrics(self) -> dict[str, float]:
        """All metrics; plain names are the validation split (the search objective)."""
        out: dict[str, float] = {}
        for split in self.measurements:  # a low-fidelity point measures val only
            m, r = self.measurements[split], self.reports[split]
            values = {
                "ann_accuracy": m.ann_accuracy,
                "snn_accuracy": m.snn_accuracy,
                "conversion_loss": m.ann_accuracy - m.snn_accuracy,
                "energy_uj": r.energy_uj,
                # the band from the hardware model's stated constant spreads (the point
                # value at both ends when a model states none)
                "energy_uj_low": r.band_uj[0],
                "energy_uj_high": r.band_uj[1],
                "membrane_reads": sum(c.membrane_reads for c in r.layers),
                "dram_uj": r.breakdown.dram_uj,
                "latency_ms": r.latency_ms,
                "spikes_per_inference": m.workload.total_spikes,
                "synops_per_inference": m.workload.total_synops,
                "pj_per_synop": r.pj_per_synop,
                "pe_utilization": r.pe_utilization,
                "cycles": float(r.cycles),
            }
            if m.accumulator is not None:
                values["truncated_products"] = m.accumulator.truncated_products
                values["saturated_neurons"] = m.accumulator.saturated_neurons
            # potentials read per layer: N for a leading-one fire, N x T for a scan
            for c in r.layers:
                if c.membrane_reads:
                    values[f"membrane_reads_{c.name}"] = c.membrane_reads
            for name, value in values.items():
                out[f"{split}_{name}"] = float(value)
        # NeuroBench's metrics by its definitions (dse.point.neurobench)
        workloads = {s: m.workload for s, m in self.measurements.items()}
        out.update(neurobench.metrics(workloads, self.zero_weights, self.analog_input))
        for key in list(out):
            if key.startswith("val_"):
                out[key[4:]] = out[key]
        out["area_mm2"] = float(self.reports["val"].area_mm2)
        # which calibration priced it: 1.0 = none (the default), else the scale kappa
        out["calibration"] = float(self.reports["val"].calibration)
        return out

    @property
    def accumulator_status(self) -> str | None:
        """``exact``, ``truncates``, ``saturates`` or ``truncates+saturates``: what the
        SNN's fixed-point accumulator did on any split (None: the coding does not say)."""
        measured = [m.accumulator for m in self.measurements.values() if m.accumulator is not None]
        if not measured:
            return None
        lost = [
            name
            for name, hit in (
                ("truncates", any(a.truncated_products > 0 for a in measured)),
                ("saturates", any(a.saturated_neurons > 0 for a in measured)),
            )
            if hit
        ]
        return "+".join(lost) or "exact"


# The last dataset this process loaded, by key: consecutive design points of a sweep share
# it instead of decoding it again. One entry only, since a dataset can take gigabytes.
_last_data: tuple[str, Any] | None = None


def load_data(dataset: Dataset, config: Any) -> Any:
    """``dataset.load()``, reused while the dataset's config and code stay the same."""
    global _last_data
    key = cache_mod.stable_hash(
        {"config": _container(config), "code": cache_mod.code_fingerprint(dataset)}
    )
    if _last_data is None or _last_data[0] != key:
        _last_data = None  # let the old splits go before the new ones load
        _last_data = (key, dataset.load())
    return _last_data[1]


def _container(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


class DesignPoint:
    """Runs the stages of one configuration, reusing cached stage results."""

    def __init__(
        self,
        cfg: DictConfig,
        plugins: Plugins,
        cache: cache_mod.StageCache,
        choices: dict[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.plugins = plugins
        self.cache = cache
        # config names of the chosen plugins (e.g. coding -> "ttfs_log"), for the workload
        self.choices = choices or {}
        self._warm_from: str | None = None  # warm_source(), once per design point
        # the first weights the quantizer sees (training or conversion) are spot-checked
        guard_quantizer(plugins.quantizer, self._name("quantizer"))

    def _name(self, group: str) -> str:
        """The plugin's config name (``hardware=<name>``), else its class name."""
        return self.choices.get(group) or type(getattr(self.plugins, group)).__name__

    # ----------------------------------------------------------------- cache keys
    def training_key(self, stop: int | None = None) -> str:
        """The training stage's key; ``stop``: that of the same schedule stopped after
        ``stop`` epochs (a method with a ``fidelity_key``). A warm-started training's key
        holds the key of the network it starts from."""
        groups = ("dataset", "model", "training", *self.plugins.training.depends_on)
        config = {g: _container(self.cfg[g]) for g in groups}
        fidelity = self.plugins.training.fidelity_key
        if fidelity is not None:
            if stop is not None:
                config["training"][fidelity] = stop
            if config["training"].get(fidelity) == _schedule(self.cfg):
                config["training"][fidelity] = None  # the whole schedule, however written
        return cache_mod.stable_hash(
            {
                "seed": self.cfg.seed,
                "config": config,
                "code": {g: cache_mod.code_fingerprint(getattr(self.plugins, g)) for g in groups},
                "core": cache_mod.core_fingerprint(),  # the dse modules stages run
                **({"warm_from": self.warm_source()} if self._warm else {}),
            }
        )

    @property
    def fidelity(self) -> str:
        """``low`` when the training stops its schedule early (its ``fidelity_key`` is
        set): only the validation split is simulated; else ``full``."""
        training = self.plugins.training
        key = training.fidelity_key
        stopped = key is not None and getattr(training, key, None) is not None
        return LOW_FIDELITY if stopped else FULL_FIDELITY

    # ----------------------------------------------------------------- warm starts
    @property
    def _warm(self) -> bool:
        return getattr(self.plugins.training, "warm_start", "none") == "nearest"

    def _family(self) -> str:
        """What a warm start may differ in: only the groups the training depends on
        (quantizer and coding settings), never the data, network, recipe or seed."""
        training = self.plugins.training
        recipe = _container(self.cfg.training)
        for key in (training.fidelity_key, "warm_start"):
            recipe.pop(key, None)
        groups = ("dataset", "model", "training", *training.depends_on)
        return cache_mod.stable_hash(
            {
                "seed": self.cfg.seed,
                "config": {
                    "dataset": _container(self.cfg.dataset),
                    "model": _container(self.cfg.model),
                    "training": recipe,
                },
                "code": {g: cache_mod.code_fingerprint(getattr(self.plugins, g)) for g in groups},
                "core": cache_mod.core_fingerprint(),
            }
        )

    def _coords(self) -> dict[str, Any]:
        return {g: _container(self.cfg[g]) for g in self.plugins.training.depends_on}

    def warm_source(self) -> str:
        """The training key of the network a warm start begins from (``cold``: none yet).
        The first choice of a design point is pinned in the cache, so its key, and the
        network under it, never change with what is trained later."""
        if self._warm_from is None:
            base = cache_mod.stable_hash({"family": self._family(), "coords": self._coords()})
            pinned = self.cache.get("warm", base)
            self._warm_from = pinned.decode() if pinned is not None else self._nearest()
        return self._warm_from

    def _nearest(self) -> str:
        """The closest fully trained network of this family: fewest differing keys of
        the groups the training depends on, then the smallest sum of absolute differences
        of the numeric ones (e.g. bits 4 -> 5 and T 4 -> 5 is (2 keys, 2)); ties: the
        smaller key. ``cold`` when the family has none."""
        family, own = self._family(), _flatten(self._coords())
        best: tuple[tuple[int, float, str], str] | None = None
        for entry in self.cache.keys(WARM_INDEX):
            head, _, key = entry.partition("-")
            raw = self.cache.get(WARM_INDEX, entry) if head == family else None
            if raw is None:
                continue
            other = _flatten(json.loads(raw))
            differ = [k for k in own.keys() | other.keys() if own.get(k) != other.get(k)]
            if not differ:
                continue
            spread = sum(
                abs(float(own[k]) - float(other[k]))
                for k in differ
                if isinstance(own.get(k), (int, float)) and isinstance(other.get(k), (int, float))
            )
            rank = (len(differ), spread, key)
            if best is None or rank < best[0]:
                best = (rank, key)
        return "cold" if best is None else best[1]

    def _note_trained(self, key: str, network: TrainedNetwork) -> None:
        """Index a finished training for later warm starts, and pin this point's source."""
        if not self.cache.enabled or network.resume_state is not None:
            return
        entry = f"{self._family()}-{key}"  # one flat stage: the cache's layout, clear() alike
        self.cache.put(WARM_INDEX, entry, json.dumps(self._coords()).encode())
        if self._warm:
            base = cache_mod.stable_hash({"family": self._family(), "coords": self._coords()})
            self.cache.put("warm", base, self.warm_source().encode())

    def simulation_key(self) -> str:
        groups = ("quantizer", "coding")
        return cache_mod.stable_hash(
            {
                "training": self.training_key(),
                "config": {g: _container(self.cfg[g]) for g in groups},
                "code": {g: cache_mod.code_fingerprint(getattr(self.plugins, g)) for g in groups},
                "coding_name": self.choices.get("coding", ""),
            }
        )

    # ----------------------------------------------------------------- stages
    def run(self) -> DesignPointResult:
        """All stages; ``cache_use`` says, per stage in order, hit / miss / off."""
        sim_key = self.simulation_key()
        cached = self.cache.get("simulation", sim_key)
        training_info: dict[str, Any] = {}
        if cached is not None:
            log.info("simulation: cache hit (%s): reusing accuracy and activity", sim_key[:12])
            payload = json.loads(cached)
            measurements = {s: Measurement.from_dict(m) for s, m in payload["splits"].items()}
            training_info = payload.get("training_info", {})
            zeros = payload.get("zero_weights")
            cache_use = {"training": "hit", "simulation": "hit"}
        else:
            measurements, training_info, train_use, zeros = self._measure()
            cache_use = {**train_use, "simulation": self._miss}
            self.cache.put(
                "simulation",
                sim_key,
                json.dumps(
                    {
                        "splits": {s: m.to_dict() for s, m in measurements.items()},
                        "training_info": training_info,
                        "zero_weights": zeros,
                    }
                ).encode(),
            )
        reports = {s: self.plugins.hardware.estimate(m.workload) for s, m in measurements.items()}
        for split, report in reports.items():  # never record a NaN or negative price
            check_report(report, self._name("hardware"), split)
        analog = neurobench.analog_input(self.plugins.coding)
        return DesignPointResult(measurements, reports, cache_use, training_info, zeros, analog)

    def prepare(self) -> tuple[Any, Architecture]:
        """Load the data and describe the network; refuse what the coding cannot run."""
        data = load_data(self.plugins.dataset, self.cfg.dataset)
        arch = self.plugins.model.build(data.input_shape, data.num_classes)
        self.plugins.coding.check_architecture(arch)
        return data, arch

    def _measure(
        self,
    ) -> tuple[dict[str, Measurement], dict[str, Any], dict[str, str], list[int] | None]:
        data, arch = self.prepare()
        ann, train_use = self._trained(data, arch)
        log.info("convert: building the SNN (%s)", type(self.plugins.coding).__name__)
        snn = self.plugins.coding.convert(ann, self.plugins.quantizer, data.train)
        measurements = {}
        # A low-fidelity point only has to rank among its peers, on the search's split:
        # simulating the test split (reported, never searched) is left to full fidelity.
        for split_name in SPLITS if self.fidelity == FULL_FIDELITY else ("val",):
            split: Split = getattr(data, split_name)
            log.info("simulate: %d %s samples at spike level", len(split), split_name)
            sim = self.plugins.coding.simulate(snn, split)
            measurements[split_name] = Measurement(
                ann_accuracy=evaluate_ann(ann, split),
                # from the predictions, counted like the ANN's: equal counts, equal figures
                snn_accuracy=_percent_correct(sim.predictions, split),
                workload=self._workload(arch, sim),
                accumulator=sim.accumulator,
            )
        zeros = neurobench.zero_weights(getattr(snn, "layers", None) or [])
        return measurements, dict(ann.info), train_use, zeros

    def pretraining_key(self, method: TrainingMethod) -> str:
        """A pretraining depends on its own settings, not on the fine-tuning's."""
        return cache_mod.stable_hash(
            {
                "seed": self.cfg.seed,
                "method": f"{type(method).__module__}.{type(method).__qualname__}",
                "settings": vars(method),
                "config": {g: _container(self.cfg[g]) for g in ("dataset", "model")},
                "code": cache_mod.code_fingerprint(method),
                "core": cache_mod.core_fingerprint(),
            }
        )

    def network_entry(self) -> tuple[str, str]:
        """(stage, key) of the cache entry that holds this design point's trained network."""
        training = self.plugins.training
        if not training.depends_on and training.pretraining() is None:
            # Independent of quantizer and coding: the very network a fine-tuning method
            # pretrains with the same settings (e.g. standard vs CAT init=standard), stored once.
            return "pretraining", self.pretraining_key(training)
        return "training", self.training_key()

    def cached_network(self, arch: Architecture) -> TrainedNetwork | None:
        """The trained network from the cache (read as data only), or None: nothing trains."""
        stage, key = self.network_entry()
        return self._load_network(stage, key, self.plugins.training, arch)

    def _trained(self, data: Any, arch: Architecture) -> tuple[TrainedNetwork, dict[str, str]]:
        training = self.plugins.training
        stage, key = self.network_entry()
        cached = self._load_network(stage, key, training, arch)
        if cached is not None:
            log.info("train: cache hit (%s): reusing the trained network", key[:12])
            return cached, {"training": "hit"}
        # Workers sharing the cache train a given network once: the others wait, then load it.
        with self.cache.computing(stage, key):
            cached = self._load_network(stage, key, training, arch)
            if cached is not None:
                log.info("train: trained meanwhile by another worker (%s)", key[:12])
                return cached, {"training": "hit"}
            use: dict[str, str] = {}
            init = None
            pretraining = training.pretraining()
            if pretraining is not None:
                pre_key = self.pretraining_key(pretraining)
                init, use["pretraining"] = self._pretrained(pretraining, pre_key, data, arch)
            resume = self._longest_prefix(arch) if stage == "training" else None
            if resume is None and self._warm and self.warm_source() != "cold":
                warm = self._load_network("training", self.warm_source(), training, arch)
                if warm is not None:  # a conversion-aware network: CAT starts from it as is
                    log.info("train: warm start from %s", self.warm_source()[:12])
                    init = warm
                    use["warm_start"] = "hit"
            ann = self._fit(training, data, arch, init, resume)
            self._store_network(stage, key, ann, training)
            if stage == "training":
                self._note_trained(key, ann)
            # resumed: the cache held the first epochs, only the rest were trained
            use["training"] = self._miss if resume is None else "resumed"
            return ann, use

    def _longest_prefix(self, arch: Architecture) -> TrainedNetwork | None:
        """The cached network of the longest prefix of this design point's own schedule
        (same config stopped after fewer epochs), to resume from; None without one."""
        training = self.plugins.training
        if training.fidelity_key is None or not self.cache.enabled:
            return None
        stop = getattr(training, training.fidelity_key, None) or _schedule(self.cfg)
        for epochs in range(int(stop) - 1, 0, -1):
            key = self.training_key(stop=epochs)
            found = self._load_network("training", key, training, arch)
            if found is not None and found.resume_state is not None:
                log.info("train: resuming from the cached first %d epochs (%s)", epochs, key[:12])
                return found
        return None

    def _pretrained(
        self, method: TrainingMethod, key: str, data: Any, arch: Architecture
    ) -> tuple[TrainedNetwork, str]:
        """The network a training method starts from, cached (and computed once) like any."""
        init = self._load_network("pretraining", key, method, arch)
        if init is None:
            with self.cache.computing("pretraining", key):
                init = self._load_network("pretraining", key, method, arch)
                if init is None:
                    init = self._fit(method, data, arch, None)
                    self._store_network("pretraining", key, init, method)
                    return init, self._miss
        log.info("pretrain: cache hit (%s): fine-tuning from it", key[:12])
        return init, "hit"

    @property
    def _miss(self) -> str:
        return "miss" if self.cache.enabled else "off"

    def _fit(
        self,
        method: TrainingMethod,
        data: Any,
        arch: Architecture,
        init: TrainedNetwork | None,
        resume: TrainedNetwork | None = None,
    ) -> TrainedNetwork:
        p = self.plugins
        seed = int(self.cfg.seed)
        if resume is None:  # methods without a fidelity key need not know the argument
            return method.fit(arch, data, p.quantizer, p.coding, seed=seed, init=init)
        return method.fit(arch, data, p.quantizer, p.coding, seed=seed, init=init, resume=resume)  # type: ignore[call-arg]

    def _load_network(
        self, stage: str, key: str, method: TrainingMethod, arch: Architecture
    ) -> TrainedNetwork | None:
        """The cached network, or None. Entries hold tensors and plain values only, read
        with ``weights_only=True``: a planted or tampered entry is rejected, never run."""
        import pickle

        import torch

        payload = self.cache.get(stage, key)
        if payload is None:
            return None
        try:
            saved = torch.load(io.BytesIO(payload), weights_only=True)
            module = self._untrained(method, arch)
            if module is None:
                return None
            state = saved["state_dict"]
            dtypes = [t.dtype for t in state.values() if t.is_floating_point()]
            if dtypes:
                module = module.to(dtypes[0])
            module.load_state_dict(state)
            info = json.loads(saved["info"])
            conversion_aware = bool(saved["conversion_aware"])
            resume_state = saved.get("resume_state")
        except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError, ValueError) as err:
            log.warning("%s cache entry %s rejected (%s): training again", stage, key[:12], err)
            self.cache.remove(stage, key)
            return None
        return TrainedNetwork(arch, module.eval(), conversion_aware, info, resume_state)

    def _store_network(
        self, stage: str, key: str, network: TrainedNetwork, method: TrainingMethod
    ) -> None:
        if not self.cache.enabled or self._untrained(method, network.architecture) is None:
            return  # a method that cannot rebuild its module from weights is not cached
        import torch

        buffer = io.BytesIO()
        saved = {
            "state_dict": network.module.state_dict(),
            "conversion_aware": network.conversion_aware,
            "info": json.dumps(network.info, default=str),
        }
        if network.resume_state is not None:  # a stopped schedule: what resuming needs
            saved["resume_state"] = network.resume_state
        torch.save(saved, buffer)  # tensors and plain values: loadable with weights_only=True
        self.cache.put(stage, key, buffer.getvalue())

    def _untrained(self, method: TrainingMethod, arch: Architecture) -> Any:
        """``method.untrained(...)`` without touching the global random state."""
        import torch

        with torch.random.fork_rng(devices=[]):
            return method.untrained(arch, self.plugins.quantizer, self.plugins.coding)

    def static_workload(self, arch: Architecture) -> Workload:
        """The design's workload without activity: what the hardware model prices before
        anything is trained (a sweep's pre-screen) and what simulation fills in."""
        coding, quantizer = self.plugins.coding, self.plugins.quantizer
        return static_workload(
            arch,
            weight_bits=quantizer.storage_bits,
            weight_format=quantizer.format,
            coding=self.choices.get("coding", type(coding).__name__),
            time_window=int(coding.time_window),
            accumulator_bits=int(coding.accumulator_bits),
        )

    def _workload(self, arch: Architecture, sim: SimulationResult) -> Workload:
        coding = self.plugins.coding
        static = self.static_workload(arch)
        if len(sim.activity) != len(static.layers):
            raise PluginError(
                f"{type(coding).__name__}.simulate returned activity for {len(sim.activity)} "
                f"layers; the workload has {len(static.layers)} ({', '.join(arch.layer_names())})"
            )
        layers = tuple(
            dataclasses.replace(
                layer,
                input_spikes=float(a.input_spikes),
                output_spikes=float(a.output_spikes),
                synops=float(a.synops),
                time_steps=float(a.time_steps),
            )
            for layer, a in zip(static.layers, sim.activity, strict=True)
        )
        return dataclasses.replace(static, layers=layers)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"quantizer": {"bits": 4}} -> {"quantizer.bits": 4}."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _schedule(cfg: DictConfig) -> int | None:
    """The training's whole schedule in epochs (``training.epochs``)."""
    epochs = cfg.training.get("epochs")
    return None if epochs is None else int(epochs)


def _percent_correct(predictions: Any, split: Split) -> float:
    import numpy as np

    correct = int((np.asarray(predictions) == split.y.numpy()).sum())
    return 100.0 * correct / max(len(split), 1)


def evaluate_ann(ann: TrainedNetwork, split: Split, batch_size: int = 512) -> float:
    """Top-1 accuracy (%) of the trained ANN itself on ``split``."""
    import torch

    from dse.api.data import batches

    module = ann.module
    was_training = module.training
    module.eval()
    correct = 0
    with torch.no_grad():
        for x, y in batches(split, batch_size):
            correct += int((module(x).argmax(dim=1) == y).sum())
    module.train(was_training)
    return 100.0 * correct / max(len(split), 1)
