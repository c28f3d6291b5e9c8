"""Regenerate the SRAM tables of conf/hardware/technology/*.yaml with CACTI 7.

The CACTI 7 binary and its configuration template ship inside ``zigzag-dse`` 3.9.1
(``zigzag/cacti/cacti_master``; install the ``zigzag`` extra). This script copies the
binary to a temporary directory (CACTI reads ``tech_params/`` relative to its working
directory), writes one configuration per capacity from the shipped template with only
the lines below changed, runs it and prints the rows ``[KB, read pJ, write pJ, mm2]``
exactly as the technology YAMLs quote them.

Configuration (the template's other lines unchanged; they are printed with ``--show``):
scratch RAM (``cache type "ram"``, no tags), one UCA bank, direct mapped, 1 exclusive
read + 1 exclusive write port, 128-bit I/O bus (16-byte block), ITRS-HP cells and
peripherals, 360 K, design objective cycle time (0:0:0:100:0, deviate 20 % delay),
ED^2, conservative interconnect, "Global_30" wire signaling, ECC on (template).

Run: .venv/bin/python bench/cacti_sram_table.py [--node 28 45] [--show]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

CAPACITIES_KB = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
ACCESS_BITS = 128
CHANGED = {  # template line prefix -> our value
    "-size (bytes)": None,  # per capacity
    "-technology (u)": None,  # per node
    "-output/input bus width": str(ACCESS_BITS),
    "-block size (bytes)": str(ACCESS_BITS // 8),
}


def cacti_dir() -> Path:
    import zigzag  # the optional extra: pip install 'snn-dse[zigzag]'

    return Path(zigzag.__file__).parent / "cacti" / "cacti_master"


def config_text(template: str, size_bytes: int, node_um: float) -> str:
    values = {**CHANGED, "-size (bytes)": str(size_bytes), "-technology (u)": f"{node_um:g}"}
    out = []
    for line in template.splitlines():
        for prefix, value in values.items():
            if line.startswith(prefix):
                line = f"{prefix} {value}"
        out.append(line)
    return "\n".join(out) + "\n"


def run(node_nm: int, capacities_kb: tuple[int, ...] = CAPACITIES_KB) -> list[list[float]]:
    """[[KB, read pJ per access, write pJ per access, area mm2], ...] from CACTI 7."""
    src = cacti_dir()
    template = (src / "cache.cfg_temp").read_text()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy2(src / "cacti", work / "cacti")
        shutil.copytree(src / "tech_params", work / "tech_params")
        shutil.copy2(src / "contention.dat", work / "contention.dat")
        for kb in capacities_kb:
            cfg = work / f"sram_{kb}.cfg"
            cfg.write_text(config_text(template, kb * 1024, node_nm / 1000))
            subprocess.run(
                ["./cacti", "-infile", cfg.name],
                cwd=work,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=120,
            )
            header, *lines = (work / f"{cfg.name}.out").read_text().splitlines()
            cols = [c.strip() for c in header.split(",")]
            vals = [v.strip() for v in lines[-1].split(",")]
            rec = dict(zip(cols, vals, strict=False))
            assert int(float(rec["Output width (bits)"])) == ACCESS_BITS
            rows.append(
                [
                    kb,
                    round(float(rec["Dynamic read energy (nJ)"]) * 1e3, 4),
                    round(float(rec["Dynamic write energy (nJ)"]) * 1e3, 4),
                    round(float(rec["Area (mm2)"]), 5),
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=int, nargs="+", default=[28, 45])
    parser.add_argument("--show", action="store_true", help="print the full CACTI config")
    args = parser.parse_args()
    if args.show:
        template = (cacti_dir() / "cache.cfg_temp").read_text()
        print(config_text(template, 1024 * 1024, 0.028))
    for node in args.node:
        print(f"# CACTI 7 (zigzag-dse 3.9.1), {node} nm, {ACCESS_BITS}-bit access")
        print(f"sram_access_bits: {ACCESS_BITS}")
        print("sram_table:  # [KB, read pJ per access, write pJ per access, area mm2]")
        for row in run(node):
            print(f"  - [{row[0]}, {row[1]}, {row[2]}, {row[3]}]")


if __name__ == "__main__":
    main()
