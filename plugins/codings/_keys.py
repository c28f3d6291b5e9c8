"""Range checks of the keys every fixed-point coding shares (no torch: cheap to import)."""

from __future__ import annotations

from dse.errors import require


def check_shared_keys(
    *,
    time_window: int,
    threshold: float,
    frac_bits: int,
    accumulator_bits: int,
    input_encoding: str,
    input_encodings: tuple[str, ...],
    percentile: float,
    calibration_samples: int,
) -> None:
    require(time_window >= 1, "coding.time_window", "must be >= 1", time_window)
    require(threshold > 0, "coding.threshold", "must be > 0", threshold)
    require(frac_bits >= 0, "coding.frac_bits", "must be >= 0", frac_bits)
    require(
        accumulator_bits >= frac_bits + 2,
        "coding.accumulator_bits",
        f"must be >= frac_bits + 2 = {frac_bits + 2} (sign bit + the threshold itself)",
        accumulator_bits,
    )
    # Integers stay exact in float64 below 2^53 (the simulation's widest type).
    require(accumulator_bits <= 52, "coding.accumulator_bits", "must be <= 52", accumulator_bits)
    require(
        input_encoding in input_encodings,
        "coding.input_encoding",
        f"must be one of {input_encodings}",
        input_encoding,
    )
    require(0 < percentile <= 100, "coding.percentile", "must be in (0, 100]", percentile)
    require(
        calibration_samples >= 1, "coding.calibration_samples", "must be >= 1", calibration_samples
    )
