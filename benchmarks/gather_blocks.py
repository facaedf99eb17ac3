"""Gathers that copy many short blocks (plan (24)): what onnxruntime's ``Gather`` costs per copied block, the probe a
CPU sheet's ``gather`` figure comes from, and the blind set it is judged on.

Found on 2026-12-07 in plan (23)'s exploration (``benchmarks/results/depthwise_set_optypes.md``): ConvBERT's
``Gather`` nodes (its span convolutions unfold their input along an inner axis) took 12.9 of 29.8 ms with 1 thread on
the Zen 4, priced at 0.4 ms. ``lone`` times lone ``Gather`` nodes over 2^20 float32 output elements in blocks of 1 to
1024 elements along axis 0, along inner axes, ConvBERT's unfolding shape and two ``GatherElements``, beside a ``Neg``.

Steps (1-thread steps pinned, ``taskset -c 1``; ``--threads 2`` unpinned)::

    python -m benchmarks.gather_blocks lone --threads 1 --threads 2   # lone.csv
    python -m benchmarks.gather_blocks probe --threads 1 --threads 2  # gather_probe.csv (the sheets' figures)
    python -m benchmarks.gather_blocks summary > benchmarks/results/gather_blocks.md
    .venv-bench/bin/python -m benchmarks.gather_blocks export         # the blind set, to .zoo/gather-set
    python -m benchmarks.gather_blocks predict                         # before any timing: with and without (24)
    taskset -c 1 hybridperf calibrate --device host-epyc-zen4-1c --measure .zoo/gather-set --rounds 8 --steady 3 \\
        --out calibration/host-epyc-zen4-gather/host-epyc-zen4-1c
    hybridperf calibrate --device host-epyc-zen4-2c --measure .zoo/gather-set --rounds 16 --steady 3 \\
        --out calibration/host-epyc-zen4-gather/host-epyc-zen4-2c
    python -m benchmarks.gather_blocks score > benchmarks/results/gather_set.md
    python -m benchmarks.gather_blocks after > benchmarks/results/depthwise_set_after24.md   # not blind

``after`` prices plan (23)'s 11 networks (``.zoo/depthwise-all``, timed before this plan) again with (24) and scores
them against their committed runs: not blind (ConvBERT's small configuration was the exploration's network).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

RUN = Path("calibration") / "host-epyc-zen4-gather"
ZOO = Path(".zoo") / "gather-set"
LONE_CSV = "lone.csv"
LONE_FIELDS = ["round", "threads", "case", "op", "data_shape", "axis", "indices_shape", "output_elements",
               "block_elements", "fastest_s", "ns_per_element", "ns_per_block"]
PROBE_CSV = "gather_probe.csv"
PROBE_FIELDS = ["round", "threads", "blocks", "gather_s", "copy_s", "extra_ns_per_block"]
#: the lone nodes of :func:`lone`: name -> (op, data shape, axis, indices shape)
E = 2**20
LONE_CASES = {
    **{f"axis0_block{b}": ("Gather", (4096, b), 0, (E // b,)) for b in (1, 2, 4, 8, 16, 64, 256, 1024)},
    "axis1_of3_block4": ("Gather", (64, 4096, 4), 1, (4096,)),
    "last_axis": ("Gather", (256, 4096), 1, (4096,)),
    "last_axis_2d_indices": ("Gather", (256, 512), 1, (8, 512)),
    "convbert_unfold": ("Gather", (1, 256, 136, 1), 2, (9, 128)),
    "elements_last_axis": ("GatherElements", (1, 12, 128, 256), 3, (1, 12, 128, 256)),
    "elements_axis0": ("GatherElements", (4096, 256), 0, (4096, 256)),
}


def _node_session(op: str, shape: tuple[int, ...], axis: int, idx_shape: tuple[int, ...], threads: int, rng):
    import numpy as np
    from onnx import TensorProto, helper

    from hybridperf.measure.probe import _onnx_model, _ort_session

    out = (list(shape[:axis]) + list(idx_shape) + list(shape[axis + 1:])) if op == "Gather" else list(idx_shape)
    model = _onnx_model([helper.make_node(op, ["X", "I"], ["Y"], axis=axis)],
                        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(shape)),
                         helper.make_tensor_value_info("I", TensorProto.INT64, list(idx_shape))],
                        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, out)])
    feed = {"X": rng.standard_normal(shape).astype(np.float32),
            "I": rng.integers(0, shape[axis], size=idx_shape).astype(np.int64)}
    return _ort_session(model, threads=threads, spin=False), feed, int(np.prod(out))


def lone(out: Path = RUN, rounds: int = 3, threads: Sequence[int] = (1,), runs: int = 15) -> Path:
    """Time each node of :data:`LONE_CASES` and a ``Neg`` of 2^20 float32 elements, fastest of ``runs`` alternating
    runs after 3 warm-up runs, ``rounds`` times at each thread count; rows appended to ``out / lone.csv``."""
    import functools
    import math

    import numpy as np
    from onnx import TensorProto, helper

    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import _interleaved_best_seconds, _onnx_model, _ort_session

    host = start(out)
    path = out / LONE_CSV
    for r in range(rounds):
        for t in threads:
            rng = np.random.default_rng(r)
            cases = {k: _node_session(*v, threads=t, rng=rng) for k, v in LONE_CASES.items()}
            io = ([helper.make_tensor_value_info("X", TensorProto.FLOAT, [E])],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [E])])
            cases["neg"] = (_ort_session(_onnx_model([helper.make_node("Neg", ["X"], ["Y"])], *io), threads=t,
                                         spin=False), {"X": rng.standard_normal(E).astype(np.float32)}, E)
            for s, feed, _ in cases.values():
                for _ in range(3):
                    s.run(None, feed)
            best, _ = _interleaved_best_seconds({k: functools.partial(s.run, None, f) for k, (s, f, _) in cases.items()},
                                                min_rounds=runs, budget_s=0.0)
            rows = []
            for k, (_, _, n) in cases.items():
                op, shape, axis, idx = LONE_CASES.get(k, ("Neg", (E,), 0, ()))
                block = math.prod(shape[axis + 1:]) if op == "Gather" else (E if op == "Neg" else 1)
                rows.append({"round": r, "threads": t, "case": k, "op": op, "data_shape": "x".join(map(str, shape)),
                             "axis": axis, "indices_shape": "x".join(map(str, idx)), "output_elements": n,
                             "block_elements": block, "fastest_s": best[k], "ns_per_element": 1e9 * best[k] / n,
                             "ns_per_block": 1e9 * best[k] / (n / block), **host_columns(host)})
            append_rows(path, LONE_FIELDS + HOST_FIELDS, rows)
    return path


def probe(out: Path = RUN, rounds: int = 3, threads: Sequence[int] = (1,)) -> Path:
    """Time :func:`hybridperf.measure.probe.gather_block` (what ``hybridperf probe`` writes as a CPU sheet's
    ``gather.block``) ``rounds`` times at each thread count; rows appended to ``out / gather_probe.csv``."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import gather_block

    host = start(out)
    path = out / PROBE_CSV
    for r in range(rounds):
        for t in threads:
            g = gather_block(threads=t)
            append_rows(path, PROBE_FIELDS + HOST_FIELDS,
                        [{"round": r, "threads": t, "blocks": g.blocks, "gather_s": g.gather_s, "copy_s": g.copy_s,
                          "extra_ns_per_block": 1e9 * g.per_block_s, **host_columns(host)}])
    return path


def sheet_figures(out: Path = RUN) -> dict[int, float]:
    """threads -> the median extra ns per block of ``gather_probe.csv``: the Zen 4 sheets' figures."""
    from benchmarks.ort_alone import medians

    return medians(out / PROBE_CSV, lambda r: int(r["threads"]), "extra_ns_per_block")


def summary(out: Path = RUN) -> str:
    """Markdown of ``lone.csv`` (median ns per element and per block by case and threads) and ``gather_probe.csv``
    (each round and the median: the sheets' figures)."""
    import csv
    import statistics

    lines = ["# onnxruntime's Gather: time per copied block", "",
             "Reproduce: see the docstring of `benchmarks/gather_blocks.py`. Host: "
             f"`{out}/lscpu.txt`. An exploration (lone nodes, 3 rounds, median of each round's fastest of 15 runs) "
             "and the probe the sheets' `gather.block` figures come from.", ""]
    if (out / LONE_CSV).exists():
        with (out / LONE_CSV).open() as f:
            rows = list(csv.DictReader(f))
        threads = sorted({int(r["threads"]) for r in rows})
        cases = list(dict.fromkeys(r["case"] for r in rows))
        head = "| case | op | data | axis | indices | block elements | " + " | ".join(
            f"ns/element {t}t | ns/block {t}t" for t in threads) + " |"
        lines += [head, "|" + "---|" * 6 + "---:|---:|" * len(threads)]
        for c in cases:
            rs = [r for r in rows if r["case"] == c]
            cells = []
            for t in threads:
                rt = [r for r in rs if int(r["threads"]) == t]
                cells += [f"{statistics.median(float(r['ns_per_element']) for r in rt):.3f}",
                          f"{statistics.median(float(r['ns_per_block']) for r in rt):.2f}" if rs[0]["op"] != "Neg"
                          else ""]
            r0 = rs[0]
            lines.append(f"| {c} | {r0['op']} | {r0['data_shape']} | {r0['axis']} | {r0['indices_shape']} | "
                         f"{r0['block_elements']} | " + " | ".join(cells) + " |")
        lines.append("")
    if (out / PROBE_CSV).exists():
        with (out / PROBE_CSV).open() as f:
            rows = list(csv.DictReader(f))
        lines += ["## The probe (`hybridperf.measure.probe.gather_block`)", "",
                  "| round | threads | Gather ms | Neg ms | extra ns per block |", "|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['round']} | {r['threads']} | {float(r['gather_s']) * 1e3:.3f} | "
                  f"{float(r['copy_s']) * 1e3:.3f} | {float(r['extra_ns_per_block']):.3f} |" for r in rows]
        lines += ["", "Median (the Zen 4 sheets' `gather.block`): " + ", ".join(
            f"{t} thread(s) {v:.3f} ns" for t, v in sheet_figures(out).items()), ""]
    return "\n".join(lines)


def export() -> list[Path]:
    """Write plan (24)'s blind set to :data:`ZOO` (transformers' configurations, random weights, seed 0): ConvBERT in
    its base configuration (12 layers of 768, 128 tokens) and a medium-small one (384 wide, 256 tokens), whose span
    convolutions unfold along an inner axis; Longformer (4 layers of 256, window 64, 512 tokens) and LED's encoder
    (4 layers of 256, window 128, 1024 tokens), whose sliding-window attention gathers its chunks from a flattened
    tensor, one element a block."""
    import torch
    from transformers import ConvBertConfig, ConvBertModel, LEDConfig, LEDModel, LongformerConfig, LongformerModel

    from benchmarks.depthwise_set import _First
    from benchmarks.elementwise_math import _export as export_to

    def _export(name: str, module, args) -> Path:
        return export_to(ZOO, name, module, args)

    written = []
    torch.manual_seed(0)
    config = ConvBertConfig()
    written.append(_export("convbert_base_b1_s128", _First(ConvBertModel(config), "input_ids", return_dict=False),
                           (torch.randint(0, config.vocab_size, (1, 128)),)))
    torch.manual_seed(0)
    config = ConvBertConfig(hidden_size=384, num_attention_heads=6, intermediate_size=1536, embedding_size=128,
                            head_ratio=2)
    written.append(_export("convbert_mediumsmall_b1_s256", _First(ConvBertModel(config), "input_ids",
                                                                  return_dict=False),
                           (torch.randint(0, config.vocab_size, (1, 256)),)))
    torch.manual_seed(0)
    config = LongformerConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                              attention_window=64, vocab_size=1000, max_position_embeddings=1026)
    written.append(_export("longformer_h256_l4_b1_s512", _First(LongformerModel(config), "input_ids",
                                                                return_dict=False),
                           (torch.randint(0, 1000, (1, 512)),)))
    torch.manual_seed(0)
    config = LEDConfig(d_model=256, encoder_layers=4, decoder_layers=1, encoder_attention_heads=4,
                       decoder_attention_heads=4, encoder_ffn_dim=1024, decoder_ffn_dim=1024, attention_window=128,
                       vocab_size=1000, max_encoder_position_embeddings=2048)
    written.append(_export("led_encoder_h256_l4_b1_s1024", _First(LEDModel(config).get_encoder(), "input_ids",
                                                                  return_dict=False),
                           (torch.randint(0, 1000, (1, 1024)),)))
    return written


#: the sheets plan (24) is judged on
SETTINGS = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")
#: plan (24)'s stored predictions: file -> heading
STORED = {"predictions_24.csv": "with (24)", "predictions.csv": "without (24)"}
SCORE_TITLE = ("Networks with gathers of many short blocks", "`benchmarks/gather_blocks.py`; plan (24)")


def predict(run: Path = RUN, zoo: Path = ZOO, settings: Sequence[str] = SETTINGS) -> tuple[Path, Path]:
    """Store the product's prediction of every export of ``zoo`` on each sheet of ``settings`` before the set is
    timed: with (24) (``predictions_24.csv``, the sheets as shipped) and without it (``predictions.csv``, the same
    sheets with no ``gather`` figure: the term unpriced, everything else the same)."""
    import dataclasses

    from benchmarks.tcn_conv1d import predict_sheets

    with_, without = predict_sheets(run, zoo, settings, {
        "predictions_24.csv": lambda spec: spec,
        "predictions.csv": lambda spec: dataclasses.replace(spec, gather_s_per_block=None)})
    return with_, without


#: plan (23)'s set, priced again after (24) (:func:`after`): the predictions written, and the two columns scored
AFTER_NAME = "predictions_after24.csv"
AFTER_STORED = {AFTER_NAME: "with (24)", "predictions_23.csv": "before (24)"}
AFTER_TITLE = ("Plan (23)'s networks priced again with plan (24) (not blind)",
               "`benchmarks/gather_blocks.py` (`after`); plan (24)")


def after(zoo: Path = Path(".zoo") / "depthwise-all") -> str:
    """Store the product's predictions of plan (23)'s set (``zoo``) in its run directory (:data:`AFTER_NAME`) and score
    them and plan (23)'s against its committed runs."""
    from benchmarks.depthwise_set import RUN as DEPTHWISE_RUN
    from benchmarks.tcn_conv1d import predict as store, score

    store(run=DEPTHWISE_RUN, zoo=zoo, name=AFTER_NAME)
    return score(run=DEPTHWISE_RUN, stored=AFTER_STORED, title=AFTER_TITLE, blind=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("lone", "probe", "summary", "export", "predict", "score", "after"))
    p.add_argument("--out", type=Path, default=RUN)
    p.add_argument("--threads", type=int, action="append", help="lone / probe: thread counts (default 1)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--zoo", type=Path, default=ZOO, help="predict: the blind set's directory of ONNX files")
    a = p.parse_args(argv)
    threads = tuple(a.threads or (1,))
    if a.step == "export":  # torch and transformers: .venv-bench
        print(*export(), sep="\n")
    elif a.step == "lone":
        print(lone(a.out, a.rounds, threads))
    elif a.step == "probe":
        print(probe(a.out, a.rounds, threads))
    elif a.step == "summary":
        print(summary(a.out))
    elif a.step == "predict":
        print(*predict(a.out, a.zoo), sep="\n")
    elif a.step == "after":
        print(after())
    else:
        from benchmarks.tcn_conv1d import score

        print(score(run=a.out, stored=STORED, title=SCORE_TITLE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
