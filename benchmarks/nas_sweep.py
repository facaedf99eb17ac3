"""A NAS-scale sweep: MobileNetV3-style variants built as ONNX, predicted on several devices.

The search space is the MobileNetV3 space of Once-for-All (Cai et al., ICLR 2020): five stages
of inverted-residual blocks (widths 24/40/80/112/160, strides 2/2/2/1/2, ReLU in the first two
stages and h-swish after, squeeze-and-excitation in stages 2, 4 and 5), each stage 2-4 blocks
deep, each block with a depthwise kernel of 3/5/7 and an expansion ratio of 3/4/6, and an input
resolution of 160/192/224; a 3x3 stem (16 channels), and the MobileNetV3 head (1x1 to 960,
pooling, 1x1 to 1280, 1000 classes). Variants are drawn with a fixed seed and de-duplicated;
each is built directly with ``onnx.helper`` (random weights, BatchNorm folded into the convs)
and written to a scratch file, predicted, and deleted.

Every variant is predicted on every ``--devices`` entry through one
:class:`hybridperf.api.Session` (each model analysed once; caches kept across the sweep).
Then ``--measure`` random variants are measured with onnxruntime on this CPU (one thread,
several interleaved rounds of timed runs, the minimum per variant) and compared with the
``host-epyc-1c`` predictions: Kendall's tau and MAPE.

The measured figure is the fastest timed run (the minimum over rounds x runs), the label of every CPU model
(:data:`hybridperf.residual.model.CPU_TARGET`). ``--rescore FILE.md`` measures nothing: it re-predicts the
variants of an earlier results file's per-variant table on ``--devices`` with the current models and scores
them against that table's measured column (as rounded there, 0.01 ms). ``--table`` prices the variants with a
:class:`hybridperf.block_table.BlockTable` keyed by :func:`block_keys` (a variant with an unknown block is built and
predicted through the session, which teaches the table its blocks; known ones are priced from the table alone) and
compares ``--check`` of them with ``Session.predict``.

Usage::

    taskset -c 0 python -m benchmarks.nas_sweep --n 1000 --measure 30 --md benchmarks/results/nas_sweep.md
    taskset -c 0 python -m benchmarks.nas_sweep --rescore benchmarks/results/nas_sweep_blocks.md \
        --devices host-epyc-zen4-1c --md benchmarks/results/nas_sweep_blocks_rescore.md
    taskset -c 1 python -m benchmarks.nas_sweep --table --n 1000 --check 1000 \
        --devices host-epyc-zen4-1c t4 a100-sxm-80gb --roofline-only host-epyc-zen4-1c \
        --md benchmarks/results/nas_sweep_table.md

Until 2026-12-03 the CPU sheet ``host-epyc-zen4-1c`` had no residual and was priced by its roofline; since then every
CPU sheet has the cross-host CPU model, so the results files written before that name it without
``--roofline-only``: add it to reproduce them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: (output channels, first stride, activation, squeeze-excite) per stage (OFA MobileNetV3)
STAGES = ((24, 2, "relu", False), (40, 2, "relu", True), (80, 2, "hswish", False),
          (112, 1, "hswish", True), (160, 2, "hswish", True))
KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
DEPTHS = (2, 3, 4)
RESOLUTIONS = (160, 192, 224)


@dataclass(frozen=True)
class Arch:
    """One point of the search space."""

    resolution: int
    depths: tuple[int, ...]
    kernels: tuple[tuple[int, ...], ...]
    expands: tuple[tuple[int, ...], ...]

    @property
    def key(self) -> str:
        blocks = "-".join("".join(f"{k}{e}" for k, e in zip(ks, es)) for ks, es in zip(self.kernels, self.expands))
        return f"r{self.resolution}_{blocks}"


def sample(rng: random.Random) -> Arch:
    depths = tuple(rng.choice(DEPTHS) for _ in STAGES)
    return Arch(rng.choice(RESOLUTIONS), depths,
                tuple(tuple(rng.choice(KERNELS) for _ in range(d)) for d in depths),
                tuple(tuple(rng.choice(EXPANDS) for _ in range(d)) for d in depths))


def _make_divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class _Builder:
    def __init__(self, seed: int):
        import numpy as np

        self.np = np
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, p: str) -> str:
        self.n += 1
        return f"{p}{self.n}"

    def weight(self, shape: tuple[int, ...], scale: float) -> str:
        from onnx import numpy_helper

        n = self.name("w")
        self.inits.append(numpy_helper.from_array(self.rng.normal(0, scale, shape).astype(self.np.float32), n))
        return n

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> str:
        w = self.weight((cout, cin // groups, k, k), math.sqrt(2.0 / (cin // groups * k * k)))
        b = self.weight((cout,), 0.01)
        p = k // 2
        return self.node("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p], group=groups)

    def act(self, x: str, kind: str) -> str:
        return self.node("Relu", [x]) if kind == "relu" else self.node("HardSwish", [x])

    def se(self, x: str, c: int) -> str:
        mid = _make_divisible(c // 4)
        s = self.node("GlobalAveragePool", [x])
        s = self.node("Relu", [self.conv(s, c, mid, 1)])
        s = self.node("HardSigmoid", [self.conv(s, mid, c, 1)], alpha=1.0 / 6, beta=0.5)
        return self.node("Mul", [x, s])


def block_keys(arch: Arch) -> tuple[tuple, ...]:
    """The blocks of ``arch`` in the search space's own encoding (what :func:`build_blocks` builds each from):
    the stem, ``(stage, first in stage, kernel, expansion, resolution)`` per inverted-residual block, the head."""
    r = arch.resolution
    return (("stem", r), *((s, i == 0, k, e, r) for s, (ks, es) in enumerate(zip(arch.kernels, arch.expands))
                           for i, (k, e) in enumerate(zip(ks, es))), ("head", r))


def build(arch: Arch, seed: int = 0):
    """The ONNX model (opset 14, input ``pixel_values`` 1x3xRxR) of ``arch``."""
    return build_blocks(arch, seed)[0]


def build_blocks(arch: Arch, seed: int = 0):
    """:func:`build`'s model and the tensors between its blocks (:func:`block_keys`; one fewer)."""
    from onnx import TensorProto, helper

    b = _Builder(seed)
    x = b.act(b.conv("pixel_values", 3, 16, 3, 2), "hswish")
    boundaries = [x]
    cin = 16
    for (cout, stride, act, se), depth, ks, es in zip(STAGES, arch.depths, arch.kernels, arch.expands):
        for i in range(depth):
            s = stride if i == 0 else 1
            mid = _make_divisible(cin * es[i])
            y = b.act(b.conv(x, cin, mid, 1), act)
            y = b.act(b.conv(y, mid, mid, ks[i], s, groups=mid), act)
            if se:
                y = b.se(y, mid)
            y = b.conv(y, mid, cout, 1)
            x = b.node("Add", [x, y]) if s == 1 and cin == cout else y
            boundaries.append(x)
            cin = cout
    x = b.act(b.conv(x, cin, 960, 1), "hswish")
    x = b.node("GlobalAveragePool", [x])
    x = b.act(b.conv(x, 960, 1280, 1), "hswish")
    x = b.node("Flatten", [x], axis=1)
    w = b.weight((1000, 1280), 0.02)
    bias = b.weight((1000,), 0.01)
    y = b.node("Gemm", [x, w, bias], transB=1)
    r = arch.resolution
    graph = helper.make_graph(b.nodes, arch.key, [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, r, r])],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 1000])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="hybridperf.nas_sweep")
    model.ir_version = 8
    return model, boundaries


def variants(n: int, seed: int) -> list[Arch]:
    rng = random.Random(seed)
    seen: dict[str, Arch] = {}
    while len(seen) < n:
        a = sample(rng)
        seen.setdefault(a.key, a)
    return list(seen.values())


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties counted as neither concordant nor discordant)."""
    n = len(a)
    conc = disc = ta = tb = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ta += 1
            elif db == 0:
                tb += 1
            elif (da > 0) == (db > 0):
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + ta) * (conc + disc + tb))
    return (conc - disc) / denom if denom else float("nan")


def measured_table(md: Path) -> tuple[list[tuple[str, float]], str]:
    """(variant key, measured seconds) of every row of a results file's per-variant table, and its heading that
    says how they were measured."""
    rows, how = [], ""
    for line in md.read_text().splitlines():
        if line.startswith("## ") and "measured with onnxruntime" in line:
            how = line[3:]
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| r") and len(cells) == 5:
            rows.append((cells[0], float(cells[3]) * 1e-3))
    if not rows:
        raise SystemExit(f"{md}: no per-variant table (| variant | MFLOP | predicted ms | measured ms | error |)")
    return rows, how


def rescore(args, cmd: str) -> str:
    """Re-predict the measured variants of ``args.rescore`` on ``args.devices`` (current models) and score them
    against its measured column: Kendall tau, MAPE, the median predicted / measured and the MAPE after dividing
    by it (one scale factor)."""
    import onnx

    from hybridperf.api import Session

    measured, how = measured_table(args.rescore)
    archs = variants(args.n, args.seed)
    index = {a.key: i for i, a in enumerate(archs)}
    unknown = [k for k, _ in measured if k not in index]
    if unknown:
        raise SystemExit(f"{args.rescore}: {len(unknown)} variant(s) not among --n {args.n} --seed {args.seed}: {unknown[:3]}")
    session = Session(keep_analyses=0, block_cache=not args.no_block_cache)
    scratch = Path(tempfile.mkdtemp(prefix="hybridperf-nas-"))
    flops, preds = [], {d: [] for d in args.devices}
    for key, _ in measured:
        i = index[key]
        path = scratch / f"{i:04d}_{key}.onnx"
        onnx.save(build(archs[i], seed=i), str(path))
        analyzed = session.analyze(path)
        flops.append(analyzed.analysis.flops)
        for d in args.devices:
            preds[d].append(session.predict_on(analyzed, d, residual=_residual(args, d)).latency_s)
        path.unlink()
    scratch.rmdir()
    meas = [m for _, m in measured]
    lines = ["# NAS sweep re-scored (no measurement)", "", f"Command: `{cmd}`", "",
             f"{len(meas)} variants of `{args.rescore}` ({how or 'measured with onnxruntime'}), re-predicted with the "
             "models of this checkout and scored against that file's measured column (the fastest timed run, the label "
             "of every CPU model, `hybridperf.residual.model.CPU_TARGET`; as rounded there, 0.01 ms).", "",
             f"- FLOPs alone: Kendall tau {kendall_tau(flops, meas):.3f}"]
    for d in args.devices:
        ratio = statistics.median(p / m for p, m in zip(preds[d], meas))
        err = statistics.mean(abs(p - m) / m for p, m in zip(preds[d], meas)) * 100
        scaled = statistics.mean(abs(p / ratio - m) / m for p, m in zip(preds[d], meas)) * 100
        lines.append(f"- predicted on `{d}`: Kendall tau **{kendall_tau(preds[d], meas):.3f}**, MAPE **{err:.1f} %**; "
                     f"median predicted / measured {ratio:.3f}, MAPE after dividing by it {scaled:.1f} %")
    return "\n".join(lines) + "\n"


#: wall time of measuring one variant with onnxruntime (session, warm-up, 5 x 3 timed runs), from
#: benchmarks/results/nas_sweep_blocks.md (core 1, 2026-12-01 22:31 UTC)
MEASURE_S = 0.138


def table_sweep(args, cmd: str, cores: str) -> str:
    """Sweep with a :class:`hybridperf.block_table.BlockTable`: one pass over the variants in order (a variant
    with an unknown block is built and predicted through the session, which teaches the table its blocks), then
    ``--repeat`` timed passes over all of them (every block known: priced from the table alone), and ``--check``
    random variants predicted through a fresh session (no table) and compared value by value."""
    from hybridperf.api import Session
    from hybridperf.block_table import BlockTable
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()
    archs = variants(args.n, args.seed)
    keys = [block_keys(a) for a in archs]
    table = BlockTable(args.devices, Session(keep_analyses=0), roofline_only=args.roofline_only)
    builds = [lambda a=a, i=i: build_blocks(a, seed=i) for i, a in enumerate(archs)]  # called only when needed
    first: list[tuple[float, bool]] = []
    t_all = time.perf_counter()
    for k, b in zip(keys, builds):
        t0 = time.perf_counter()
        got = table.predict(k, b)
        first.append((time.perf_counter() - t0, next(iter(got.values())).from_table))
    first_wall = time.perf_counter() - t_all
    passes = []
    last: list[dict] = []
    for _ in range(args.repeat):
        per, last = [], []
        t0 = time.perf_counter()
        for k, b in zip(keys, builds):
            t1 = time.perf_counter()
            last.append(table.predict(k, b))
            per.append(time.perf_counter() - t1)
        passes.append((time.perf_counter() - t0, per))
    all_per = [t for _, per in passes for t in per]
    med = statistics.median(all_per)
    batch = min(w for w, _ in passes) / len(keys)
    many_s = []
    for _ in range(args.repeat):  # all variants in one predict_many call: the ordered sums vectorised over them
        t0 = time.perf_counter()
        many = table.predict_many(list(zip(keys, builds)))
        many_s.append((time.perf_counter() - t0) / len(keys))
    many_same = sum(m == p for m, p in zip(many, last))
    # equality: a fresh session (block cache on, as the sweep's) against the table's figures
    rng = random.Random(args.seed + 2)
    sample = sorted(rng.sample(range(len(archs)), min(args.check, len(archs))))
    ref = Session(keep_analyses=0)
    same = total = 0
    worst = 0.0
    for i in sample:
        analyzed = ref.analyze(build(archs[i], seed=i))
        for d in args.devices:
            p, t = ref.predict_on(analyzed, d, residual=_residual(args, d)), last[i][table.session.spec(d).id]
            for x, y in ((p.latency_s, t.latency_s), (p.energy_j, t.energy_j), (p.flops, t.flops)):
                total += 1
                same += x == y
                worst = max(worst, abs(x - y) / abs(x) if x else abs(y))
            if t.from_table and t.peak_memory_bytes is not None:
                raise SystemExit(f"variant {i}: a table prediction reported a peak memory")
    learned = [t for t, hit in first if not hit]
    hits = [t for t, hit in first if hit]
    lines = [
        "# NAS sweep with a block table (issue 14.2, goal >= 1000x vs measuring)", "", f"Command: `{cmd}`", "",
        "Search space as `benchmarks/results/nas_sweep.md` (Once-for-All MobileNetV3). Each variant is described by "
        "its block keys (`benchmarks.nas_sweep.block_keys`: stem and head by resolution, each inverted-residual "
        "block by (stage, first in stage, kernel, expansion, resolution)); `hybridperf.block_table.BlockTable` "
        f"prices it on {', '.join(args.devices)} (table-priced: {', '.join(table.table_devices()) or 'none'}). "
        f"Timed on core(s) {cores} of a shared {os.cpu_count()}-core host ({_cpu_model()}).", "",
        f"- variants: {len(archs)}; first pass in order: {len(learned)} built and predicted through the session "
        f"(they hold an unknown block; median {statistics.median(learned) * 1e3:.1f} ms each"
        + (f"), {len(hits)} priced from the table" if hits else ")")
        + f"; {first_wall:.1f} s in all ({first_wall / len(archs) * 1e3:.1f} ms per variant including the learning, "
        f"{MEASURE_S * len(archs) / first_wall:.1f}x measuring them all); table at the end: {len(table)} block groups, "
        f"{table.stats()}",
        f"- steady state (every block known, {args.repeat} passes over all {len(keys)} variants, "
        f"{len(args.devices)} devices each; block keys computed before the clock starts"
        + ("" if len(table.table_devices()) == len(args.devices) else
           "; the devices not table-priced build and predict every variant through the session") + "): median "
        f"**{med * 1e6:.1f} us per variant** (min {min(all_per) * 1e6:.1f}, "
        f"max {max(all_per) * 1e6:.1f}); fastest pass {batch * 1e6:.1f} us per variant",
        f"- **{1 / med:,.0f} variants/s/core** ({len(args.devices) / med:,.0f} predictions/s/core)",
        f"- all {len(keys)} variants in one `predict_many` call ({args.repeat} calls): median "
        f"**{statistics.median(many_s) * 1e6:.1f} us per variant** (min {min(many_s) * 1e6:.1f}) -> "
        f"{1 / statistics.median(many_s):,.0f} variants/s/core, {MEASURE_S / statistics.median(many_s):,.0f}x measuring; "
        f"{many_same} of {len(keys)} variants' predictions identical (`==`) to the one-by-one calls'",
        f"- ratio to measuring one variant with onnxruntime ({MEASURE_S} s: session, warm-up, 5 x 3 timed runs; "
        f"`benchmarks/results/nas_sweep_blocks.md`): **{MEASURE_S / med:,.0f}x** per variant "
        f"({MEASURE_S / med * len(args.devices):,.0f}x per device prediction)",
        f"- equality with `Session.predict` (a fresh session) on {len(sample)} random variants: **{same} of {total}** "
        f"values identical (latency, energy, FLOPs per device; largest relative difference {worst:.3g}); "
        "peak memory reported unknown (None) for every table-priced prediction",
    ]
    return "\n".join(lines) + "\n"


def _cpu_model() -> str:
    """``lscpu``'s model name (with family and model numbers when the name is as short as "AMD EPYC")."""
    try:
        info = dict(line.split(":", 1) for line in open("/proc/cpuinfo").read().split("\n\n")[0].splitlines()
                    if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        return f"{info.get('model name', platform.processor())}, family {info.get('cpu family')} model {info.get('model')}"
    except OSError:
        return platform.processor() or "unknown CPU"


def measure(paths: list[Path], rounds: int, runs: int, daz: bool = False) -> list[float]:
    """Minimum seconds per inference of each model with onnxruntime (1 thread), interleaved rounds.

    ``daz``: flush denormals to zero (random weights without BatchNorm can drive activations into
    the denormal range, which slows float kernels by an order of magnitude; trained models rarely do).
    """
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    if daz:
        so.add_session_config_entry("session.set_denormal_as_zero", "1")
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sessions, feeds = [], []
    for p in paths:
        s = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        shape = s.get_inputs()[0].shape
        feeds.append({s.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)})
        s.run(None, feeds[-1])  # warm-up
        sessions.append(s)
    best = [math.inf] * len(paths)
    for _ in range(rounds):
        for i, (s, f) in enumerate(zip(sessions, feeds)):
            for _ in range(runs):
                t0 = time.perf_counter()
                s.run(None, f)
                best[i] = min(best[i], time.perf_counter() - t0)
    return best


def _residual(args, device: str):
    """``residual`` of a sweep prediction on ``device``: None (roofline) where ``--roofline-only`` names it."""
    return None if device in args.roofline_only else "auto"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="variants (default %(default)s)")
    ap.add_argument("--devices", nargs="+", default=["host-epyc-1c", "t4", "a100-sxm-80gb"])
    ap.add_argument("--roofline-only", nargs="+", default=[], metavar="ID",
                    help="devices among --devices priced by their roofline alone, as `predict --roofline-only` (before "
                         "2026-12-03 every CPU sheet but the calibrated ones was; now they have the cross-host model)")
    ap.add_argument("--measure", type=int, default=30, help="random variants measured with onnxruntime (0: none)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per variant per round")
    ap.add_argument("--warm", type=int, help="first variants left out of the throughput figures: they fill the "
                    "caches (default: the first 10 %%)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jsonl", type=Path, help="also write one JSON line per variant")
    ap.add_argument("--daz", action="store_true", help="measure with onnxruntime's denormals-as-zero")
    ap.add_argument("--only-measured", action="store_true",
                    help="predict and measure only the --measure variants (a re-measurement; no throughput figures)")
    ap.add_argument("--no-block-cache", action="store_true",
                    help="analyse every variant whole (the session's block cache off: the figures before it)")
    ap.add_argument("--rescore", type=Path, metavar="FILE.md",
                    help="measure nothing: re-predict FILE's measured variants on --devices and score them against "
                         "its measured column")
    ap.add_argument("--table", action="store_true",
                    help="price with a block table (hybridperf.block_table): learn blocks through the session, then "
                         "price known variants from the table alone; --check variants compared with Session.predict")
    ap.add_argument("--check", type=int, default=50, help="with --table: variants compared with Session.predict")
    ap.add_argument("--repeat", type=int, default=5, help="with --table: timed passes over all (known) variants")
    ap.add_argument("--md", type=lambda v: None if v == "-" else Path(v),
                    help="markdown file to write (the same text goes to stdout; '-': none)")
    args = ap.parse_args(argv)
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    cmd = f"taskset -c {cores} python -m benchmarks.nas_sweep " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.rescore is not None or args.table:
        text = rescore(args, cmd) if args.rescore is not None else table_sweep(args, cmd, cores)
        if args.md:
            args.md.write_text(text)
        print(text)
        return 0

    import onnx

    from hybridperf.api import Session
    from hybridperf.ir.tvm_compat import tvm_modules

    t_imp = time.perf_counter()
    tvm_modules()
    t_imp = time.perf_counter() - t_imp
    archs = variants(args.n, args.seed)
    rng = random.Random(args.seed + 1)
    chosen = set(rng.sample(range(len(archs)), min(args.measure, len(archs))))
    session = Session(keep_analyses=0, block_cache=not args.no_block_cache)
    rows: list[dict] = []
    scratch = Path(tempfile.mkdtemp(prefix="hybridperf-nas-"))
    keep: dict[int, Path] = {}
    build_s = predict_s = 0.0
    t_all = time.perf_counter()
    out = args.jsonl.open("w") if args.jsonl else None
    for i, arch in enumerate(archs):
        if args.only_measured and i not in chosen:
            continue
        t0 = time.perf_counter()
        path = scratch / f"{i:04d}_{arch.key}.onnx"
        onnx.save(build(arch, seed=i), str(path))
        t1 = time.perf_counter()
        analyzed = session.analyze(path)
        t1b = time.perf_counter()
        row = {"i": i, "key": arch.key, "flops": analyzed.analysis.flops,
               "peak_memory_bytes": analyzed.memory.peak_bytes}
        for dev in args.devices:
            row[dev] = session.predict_on(analyzed, dev, residual=_residual(args, dev)).latency_s
        t2 = time.perf_counter()
        row["stages_s"] = {**analyzed.timings_s, "pricing_s": t2 - t1b}
        build_s += t1 - t0
        predict_s += t2 - t1
        row["predict_s"] = t2 - t1
        rows.append(row)
        if out:
            out.write(json.dumps(row) + "\n")
        if i in chosen:
            keep[i] = path
        else:
            path.unlink()
        if len(rows) % 50 == 0:
            print(f"{i + 1}/{len(archs)} variants, {predict_s / (i + 1) * 1e3:.0f} ms per variant "
                  f"(all devices), cache {session.cache.stats()}", file=sys.stderr)
    wall = time.perf_counter() - t_all
    if out:
        out.close()
    per = [r["predict_s"] for r in rows]
    warm = len(per) // 10 if args.warm is None else min(args.warm, len(per) - 1)
    tail = per[warm:]  # the first variants fill the caches
    lines = [
        "# NAS sweep (issue 14.3)", "", f"Command: `{cmd}`", "",
        "Search space: Once-for-All MobileNetV3 (depth 2-4 per stage, kernel 3/5/7, expansion 3/4/6, "
        f"resolution 160/192/224), built with onnx.helper. Predicted and measured on core(s) {cores} of a shared "
        f"{os.cpu_count()}-core host ({_cpu_model()}; other sessions may run on the other cores).", "",
        f"- variants: {len(rows)} (all imported, analysed and priced; TVM import {t_imp:.1f} s not counted)",
        f"- devices: {', '.join(args.devices)}",
        f"- FLOPs range: {min(r['flops'] for r in rows) / 1e6:.0f}-{max(r['flops'] for r in rows) / 1e6:.0f} MFLOP",
        f"- prediction time per variant (analysis once + {len(args.devices)} devices): median "
        f"{statistics.median(per) * 1e3:.0f} ms, min {min(per) * 1e3:.0f} ms; after the first {warm}: median "
        f"{statistics.median(tail) * 1e3:.0f} ms -> {1 / statistics.median(tail):.2f} variants/s/core, "
        f"{len(args.devices) / statistics.median(tail):.2f} predictions/s/core",
        f"- median ms per stage after the first {warm} ({'whole-model path' if args.no_block_cache else 'block cache'}): "
        + ", ".join(f"{k.removesuffix('_s')} {statistics.median(r['stages_s'].get(k, 0.0) for r in rows[warm:]) * 1e3:.1f}"
                    for k in dict.fromkeys(k for r in rows[warm:] for k in r["stages_s"])),
        f"- building + writing the ONNX files: {build_s:.0f} s in all; sweep wall time {wall:.0f} s",
        f"- caches at the end: {session.stats()}",
    ]
    if keep:
        idx = sorted(keep)
        import onnxruntime  # noqa: F401 - imported before the clock starts (a process does it once)

        t_meas = time.perf_counter()
        meas = measure([keep[i] for i in idx], args.rounds, args.runs, args.daz)
        meas_wall = (time.perf_counter() - t_meas) / len(idx)
        by_i = {r["i"]: r for r in rows}
        roof_tau = kendall_tau([by_i[i]["flops"] for i in idx], meas)
        lines += [
            "", f"## {len(idx)} random variants measured with onnxruntime (1 thread, {args.rounds} interleaved rounds x "
            f"{args.runs} runs, minimum{', denormals as zero' if args.daz else ''})", "",
            f"- FLOPs alone: Kendall tau {roof_tau:.3f}",
            f"- measuring wall time per variant (session creation, warm-up, {args.rounds} x {args.runs} timed runs): "
            f"{meas_wall:.3f} s; ratio to the median prediction time after warm-up: "
            f"{meas_wall / statistics.median(tail):.1f}x ({meas_wall / statistics.median(tail) * len(args.devices):.1f}x "
            "per device prediction)",
        ]
        for d in args.devices:  # a GPU device's tau only says how alike its ranking is to this CPU's
            dp = [by_i[i][d] for i in idx]
            d_err = statistics.mean(abs(p - m) / m for p, m in zip(dp, meas)) * 100
            lines.append(f"- predicted on `{d}`: Kendall tau **{kendall_tau(dp, meas):.3f}**, MAPE **{d_err:.1f} %**")
        lines.append("- (measured on this CPU: the tau of another device only says how alike its ranking is)")
        pred = [by_i[i][args.devices[0]] for i in idx]
        lines += ["", f"Per variant, predicted on `{args.devices[0]}`:", "",
                  "| variant | MFLOP | predicted ms | measured ms | error |", "|---|---:|---:|---:|---:|"]
        for i, p, m in sorted(zip(idx, pred, meas), key=lambda t: t[2]):
            lines.append(f"| {by_i[i]['key']} | {by_i[i]['flops'] / 1e6:.0f} | {p * 1e3:.2f} | {m * 1e3:.2f} | {(p - m) / m * 100:+.1f} % |")
        for p in keep.values():
            p.unlink()
    scratch.rmdir()
    text = "\n".join(lines) + "\n"
    if args.md:
        args.md.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
