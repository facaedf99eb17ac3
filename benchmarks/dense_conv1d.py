"""Dense 1-D convolutions in onnxruntime on a CPU: measured against the product's price, lone nodes.

An exploration, not a plan (2026-12-07, the Zen 3 VM): the codecs and vocoders of plans (22) and (28) stay 15-30 %
too fast on both CPUs measured (element-wise math 21.0 % on the Zen 3 VM's retest, run against retest 2.4 %). An
earlier throwaway script on the Zen 4 (CHANGELOG 2026-12-07 12:34 UTC, not kept) found onnxruntime's dense 1-D
``Conv`` 1.24-1.42x and dense ``ConvTranspose`` 1.11-1.70x the product's price on lone nodes: ``ConvTranspose`` is an
op family no learned CPU model was trained on (priced at its roofline), and the training rows hold few dense 1-D
convolutions. This script keeps that measurement, with the shapes of SEANet / EnCodec / DAC codecs (kernels 3 and 7 at
stride 1, down-sampling kernels 2s at stride s, up-sampling ``ConvTranspose`` kernels 2s at stride s), so a probed
figure for them can be planned and judged on more than one CPU.

Writes rows to ``<out>/dense_conv1d.csv`` (each shape's fastest of 15 runs, the product's learned and roofline time on
the sheet given, the host's columns; ``lscpu`` beside them) and a markdown report.

Usage::

    taskset -c 1 python -m benchmarks.dense_conv1d --threads 1 --sheet SHEET_1C --out DIR
    taskset -c 0,1 python -m benchmarks.dense_conv1d --threads 2 --sheet SHEET_2C --out DIR
    (each a round: the Zen 3 VM's rows are 3 rounds of the two, alternating)
    python -m benchmarks.dense_conv1d --report --out DIR > benchmarks/results/dense_conv1d_zen3.md
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

CSV = "dense_conv1d.csv"
#: (op, in channels, out channels, input steps, kernel, stride): SEANet-like residual convolutions (kernels 3 and 7),
#: down-sampling convolutions (kernel 2s, stride s) and up-sampling transposed ones (kernel 2s, stride s)
SHAPES = [("Conv", 32, 32, 16000, 7, 1), ("Conv", 64, 64, 8000, 3, 1), ("Conv", 128, 128, 2000, 3, 1),
          ("Conv", 256, 256, 500, 3, 1), ("Conv", 512, 512, 250, 7, 1), ("Conv", 64, 128, 8000, 8, 4),
          ("Conv", 256, 512, 1000, 16, 8), ("ConvTranspose", 64, 32, 8000, 4, 2),
          ("ConvTranspose", 128, 64, 2000, 8, 4), ("ConvTranspose", 256, 128, 500, 10, 5),
          ("ConvTranspose", 512, 256, 250, 16, 8), ("ConvTranspose", 1024, 512, 64, 16, 8)]
FIELDS = ["threads", "sheet", "op", "in_channels", "out_channels", "length", "kernel", "stride", "macs", "fastest_s",
          "learned_s", "roofline_s"]


def measure(threads: int, sheet: str, out: Path, runs: int = 15) -> Path:
    """Time every shape of :data:`SHAPES` with ``threads`` and price it on ``sheet`` (an id or a sheet file); rows
    appended to ``out / dense_conv1d.csv``."""
    from benchmarks.depthwise_conv1d import _model, timed_and_priced
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.device.spec import load_spec

    spec = load_spec(Path(sheet)) if Path(sheet).is_file() else sheet
    host = start(out)
    rows = []
    for op, cin, cout, n, k, s in SHAPES:
        model, macs = _model(op, cin, n, k, s, cout=cout, groups=1)
        rows.append({"threads": threads, "sheet": sheet, "op": op, "in_channels": cin, "out_channels": cout,
                     "length": n, "kernel": k, "stride": s, "macs": macs,
                     **timed_and_priced(model, cin, n, threads, spec, runs), **host_columns(host)})
    append_rows(out / CSV, FIELDS + HOST_FIELDS, rows)
    return out / CSV


def report(out: Path) -> str:
    """Markdown of ``dense_conv1d.csv``: per shape and thread count, the median over its runs (rounds) of the fastest
    time, against the product's learned and roofline time, with the median ratio per op and thread count."""
    with (out / CSV).open() as f:
        rows = list(csv.DictReader(f))
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (int(r["threads"]), r["sheet"], r["op"] != "Conv", int(r["in_channels"]), int(r["out_channels"]),
               int(r["length"]), int(r["kernel"]), int(r["stride"]))
        groups.setdefault(key, []).append(r)
    lines = ["# Dense 1-D convolutions in onnxruntime against the product's price (lone nodes)", "",
             f"Reproduce: see the docstring of `benchmarks/dense_conv1d.py`. Host: `{out}/lscpu.txt`. An exploration "
             "(2026-12-07), not a plan. Measured: the median over rounds of each round's fastest of 15 runs.", "",
             "| threads | sheet | op | in -> out channels x steps | kernel / stride | rounds | measured us | ns per MAC "
             "| learned us (x) | roofline us (x) |", "|---:|---|---|---|---|---:|---:|---:|---:|---:|"]
    ratios: dict[tuple[int, str], list[float]] = {}
    for key in sorted(groups):
        g = groups[key]
        r = g[0]
        t = statistics.median(float(x["fastest_s"]) for x in g)
        learned, roof = float(r["learned_s"]), float(r["roofline_s"])
        ratios.setdefault((key[0], r["op"]), []).append(t / learned)
        lines.append(f"| {r['threads']} | `{Path(r['sheet']).stem}` | {r['op']} | {r['in_channels']} -> "
                     f"{r['out_channels']} x {r['length']} | {r['kernel']} / {r['stride']} | {len(g)} | {t * 1e6:.0f} | "
                     f"{1e9 * t / int(r['macs']):.4f} | {learned * 1e6:.0f} ({t / learned:.2f}) | "
                     f"{roof * 1e6:.0f} ({t / roof:.2f}) |")
    lines += ["", "(x): measured over the product's time. " + "; ".join(
        f"{t} thread(s), {op}: measured / learned {min(v):.2f}-{max(v):.2f}x, median {statistics.median(v):.2f}x"
        for (t, op), v in sorted(ratios.items())), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, choices=(1, 2), default=1)
    p.add_argument("--sheet", help="the device to price on: a sheet id or a sheet file (with --threads)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--report", action="store_true", help="instead: print the markdown of the rows under --out")
    a = p.parse_args(argv)
    if not a.report and not a.sheet:
        p.error("--sheet is needed to measure (the device the shapes are priced on)")
    print(report(a.out) if a.report else measure(a.threads, a.sheet, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
