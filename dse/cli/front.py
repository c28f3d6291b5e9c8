"""``dse-front``: work with recorded fronts. ``dse-front compare A B ...`` draws several
sweeps' fronts on one plot, prints which front dominates where and records the comparison
as an MLflow run (:mod:`dse.front.compare`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dse.api.errors import DseError

DEFAULT_URI = "sqlite:///outputs/mlflow.db"  # conf/tracking: the embedded default store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dse-front", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    compare = sub.add_parser(
        "compare",
        help="several sweeps' fronts on one plot, which dominates where, recorded in MLflow",
    )
    compare.add_argument(
        "sweeps", nargs="+", metavar="SWEEP", help="a study name or a sweep's parent run id"
    )
    compare.add_argument("--tracking-uri", default=DEFAULT_URI, help=f"default {DEFAULT_URI}")
    compare.add_argument(
        "--out", type=Path, default=None, help="also write the plot, CSVs and table here"
    )
    compare.add_argument(
        "--experiment", default=None, help="record in this experiment (default: the first sweep's)"
    )
    compare.add_argument(
        "--no-record", action="store_true", help="print (and --out) only, no MLflow run"
    )
    return parser


def compare(args: argparse.Namespace) -> int:
    from dse.front.compare import (
        bands_table,
        common_objectives,
        dominance_bands,
        load_front,
        record_comparison,
        unique_names,
        write_comparison,
    )
    from dse.tracking.runs import browse_command, connect, experiment_id

    uri = str(args.tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).exists():
        raise DseError(f"--tracking-uri {uri}: no such store (run a sweep first)")
    client = connect(uri)
    sweeps = [load_front(client, ref) for ref in args.sweeps]
    unique_names(sweeps)
    x, y = common_objectives(sweeps)
    for s in sweeps:
        print(f"{s.name}: {len(s.points)} front points (parent run {s.parent_run_id})")
    print()
    print(bands_table(dominance_bands(sweeps, x, y), x, y))
    if args.out is not None:
        files = write_comparison(sweeps, args.out, x, y)
        print(f"\nwrote {', '.join(f.name for f in files)} to {args.out}")
    if not args.no_record:
        exp = experiment_id(client, args.experiment) if args.experiment else None
        run_id = record_comparison(client, sweeps, exp)
        print(f"\nRecorded as MLflow run {run_id} (fronts.png, fronts.csv, dominance.csv).")
        command = browse_command(uri)
        if command:
            print(f"  {command}")
    return 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``dse-front``."""
    args = _parser().parse_args(argv)
    try:
        sys.exit(compare(args))
    except DseError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
