"""Import coverage of the model zoo: export, import raw, normalise, import, predict.

For every architecture of :mod:`benchmarks.zoo` and both torch exporters
(legacy TorchScript and dynamo) this records whether

* the export works,
* TVM's Relax ONNX frontend imports the file as exported ("raw"),
* it imports after :func:`hybridperf.frontends.normalize.normalize`,
* :func:`hybridperf.predict.predict` runs on the imported module,

with timings, and prints a table plus a summary (shares, failures grouped by
the first line of the exception). Rows go to ``benchmarks/results/coverage.csv``
as they finish, so an interrupted run resumes where it stopped (``--resume``).

Usage::

    python -m benchmarks.coverage                      # everything, both exporters
    python -m benchmarks.coverage --models resnet18,bert_tiny --exporters legacy
    python -m benchmarks.coverage --resume --isolate   # one subprocess per row
    python -m benchmarks.coverage --resume --retry-failed
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "coverage.csv"
DEFAULT_DEVICE = "h100-sxm"


@dataclass
class Row:
    """One (model, exporter) outcome; ``error`` is the first failing stage's first line."""

    model: str
    exporter: str
    export_ok: bool = False
    import_raw_ok: bool = False
    import_norm_ok: bool = False
    predict_ok: bool = False
    nodes_before: int = 0
    nodes_after: int = 0
    nodes_folded: int = 0
    file_mb: float = 0.0
    export_s: float = 0.0
    raw_import_s: float = 0.0
    normalize_s: float = 0.0
    import_s: float = 0.0
    predict_s: float = 0.0
    raw_error: str = ""
    error: str = ""
    predict_note: str = ""


def first_line(exc: BaseException) -> str:
    """``Type: first non-empty line`` of an exception, 200 chars at most."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # TVM errors put the useful line last ("... Check failed: ..."), Python ones first
    text = lines[0] if lines else ""
    for ln in lines:
        if "Check failed" in ln or ln.startswith(("TypeError", "ValueError")):
            text = ln
            break
    return f"{type(exc).__name__}: {text}"[:200]


def _tvm_from_onnx(model, shape_dict=None):
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()
    from tvm.relax.frontend.onnx import from_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return from_onnx(model, shape_dict=shape_dict)


def _predict_fn():
    try:
        from hybridperf.api import predict
    except ImportError:
        return None
    return predict


def run_one(name: str, exporter: str, batch: int, out_dir: Path, device: str, do_predict: bool, raw: bool) -> Row:
    """Export ``name`` with ``exporter`` and push it through every stage."""
    import onnx

    from benchmarks import zoo
    from hybridperf.frontends.normalize import check_supported, normalize

    row = Row(name, exporter)
    t0 = time.perf_counter()
    try:
        path = zoo.export(name, batch=batch, exporter=exporter, out_dir=out_dir)
        row.export_ok = True
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        row.error = f"export: {first_line(exc)}"
        return row
    finally:
        row.export_s = round(time.perf_counter() - t0, 2)
    row.file_mb = round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20, 1)

    model = onnx.load(str(path))
    row.nodes_before = len(model.graph.node)
    shape_dict = {}
    for i in model.graph.input:
        dims = [d.dim_value if d.HasField("dim_value") else batch for d in i.type.tensor_type.shape.dim]
        shape_dict[i.name] = dims
    init_names = {t.name for t in model.graph.initializer}
    shape_dict = {k: v for k, v in shape_dict.items() if k not in init_names}

    if raw:
        t0 = time.perf_counter()
        try:
            _tvm_from_onnx(model, shape_dict)
            row.import_raw_ok = True
        except Exception as exc:  # noqa: BLE001
            row.raw_error = first_line(exc)
        row.raw_import_s = round(time.perf_counter() - t0, 2)
        gc.collect()

    t0 = time.perf_counter()
    try:
        res = normalize(model, shapes=shape_dict, inplace=True)
        row.nodes_after, row.nodes_folded = res.nodes_after, res.nodes_folded
        check_supported(res.model, source=path.name)
    except Exception as exc:  # noqa: BLE001
        row.error = f"normalize: {first_line(exc)}"
        return row
    finally:
        row.normalize_s = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    try:
        from hybridperf.frontends.onnx_import import from_onnx

        mod = from_onnx(res.model, res.input_shapes, source=path.name).module
        row.import_norm_ok = True
    except Exception as exc:  # noqa: BLE001
        row.error = f"import: {first_line(exc)}"
        return row
    finally:
        row.import_s = round(time.perf_counter() - t0, 2)
    del model, res
    gc.collect()

    predict = _predict_fn() if do_predict else None
    if predict is not None:
        t0 = time.perf_counter()
        try:
            pred = predict(mod, device)
            row.predict_ok = True
            row.predict_note = pred.analyzed.fusion_note[:160]
        except Exception as exc:  # noqa: BLE001
            row.error = f"predict: {first_line(exc)}"
        row.predict_s = round(time.perf_counter() - t0, 2)
    return row


def _run_isolated(name: str, exporter: str, args: argparse.Namespace) -> Row:
    cmd = [
        sys.executable, "-m", "benchmarks.coverage", "--one", f"{name}:{exporter}", "--batch", str(args.batch),
        "--out-dir", str(args.out_dir), "--device", args.device,
    ]
    if args.no_predict:
        cmd.append("--no-predict")
    if args.no_raw:
        cmd.append("--no-raw")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return Row(name, exporter, error=f"timeout after {args.timeout} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return Row(**json.loads(line))
    tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return Row(name, exporter, error=f"crashed (exit {proc.returncode}): {tail[:160]}")


def _read_csv(path: Path) -> list[Row]:
    if not path.exists():
        return []
    types = {f.name: f.type for f in fields(Row)}
    rows = []
    with path.open() as fh:
        for rec in csv.DictReader(fh):
            kw = {}
            for k, v in rec.items():
                t = types.get(k)
                if t in ("bool", bool):
                    kw[k] = v == "True"
                elif t in ("int", int):
                    kw[k] = int(v or 0)
                elif t in ("float", float):
                    kw[k] = float(v or 0)
                elif t is not None:
                    kw[k] = v
            rows.append(Row(**kw))
    return rows


def _write_csv(path: Path, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(Row)])
        w.writeheader()
        for r in rows:
            w.writerow(asdict(r))


def _yn(v: bool) -> str:
    return "yes" if v else "NO"


def format_table(rows: list[Row]) -> str:
    head = f"{'model':32} {'exporter':8} {'export':6} {'raw':4} {'norm':4} {'pred':4} {'nodes':>11} {'time_s':>7}  error"
    out = [head, "-" * len(head)]
    for r in rows:
        total = r.export_s + r.raw_import_s + r.normalize_s + r.import_s + r.predict_s
        nodes = f"{r.nodes_before}->{r.nodes_after}" if r.nodes_after else str(r.nodes_before or "")
        out.append(
            f"{r.model:32} {r.exporter:8} {_yn(r.export_ok):6} {_yn(r.import_raw_ok):4} "
            f"{_yn(r.import_norm_ok):4} {_yn(r.predict_ok):4} {nodes:>11} {total:7.1f}  {r.error[:90]}"
        )
    return "\n".join(out)


def format_summary(rows: list[Row]) -> str:
    def share(k: int, n: int) -> str:
        return f"{k}/{n} ({100.0 * k / n:.0f} %)" if n else "0/0"

    exported = [r for r in rows if r.export_ok]
    lines = [f"rows: {len(rows)}, exported: {share(len(exported), len(rows))}"]
    for exp in sorted({r.exporter for r in rows}):
        sub = [r for r in exported if r.exporter == exp]
        lines.append(
            f"  {exp:7} import raw {share(sum(r.import_raw_ok for r in sub), len(sub))}, "
            f"normalised {share(sum(r.import_norm_ok for r in sub), len(sub))}, "
            f"predict {share(sum(r.predict_ok for r in sub), len(sub))}"
        )
    lines.append(
        f"  all     import raw {share(sum(r.import_raw_ok for r in exported), len(exported))}, "
        f"normalised {share(sum(r.import_norm_ok for r in exported), len(exported))}, "
        f"predict {share(sum(r.predict_ok for r in exported), len(exported))}  (of exported files)"
    )
    norm = [r for r in exported if r.import_norm_ok and r.file_mb > 0]
    if norm:
        worst = max(norm, key=lambda r: r.normalize_s + r.import_s)
        lines.append(
            f"normalise+import: median {sorted(r.normalize_s + r.import_s for r in norm)[len(norm) // 2]:.2f} s, "
            f"slowest {worst.model}/{worst.exporter} {worst.normalize_s:.2f}+{worst.import_s:.2f} s for {worst.file_mb} MB"
        )
    for title, errs in (
        ("raw import failures by cause", [r.raw_error for r in exported if r.raw_error]),
        ("remaining failures by cause", [r.error for r in rows if r.error]),
    ):
        lines.append(f"{title}:")
        for msg, n in Counter(e[:150] for e in errs).most_common():
            lines.append(f"  {n:3} x {msg}")
    return "\n".join(lines)


def _cause(err: str) -> str:
    """Group key of an error: stage and message with file names and numbers kept short."""
    return err.split(" (e.g.")[0][:160]


def format_markdown(rows: list[Row], command: str) -> str:
    """The coverage report: command, per-exporter shares, failures by cause, one row per model."""

    def pct(k: int, n: int) -> str:
        return f"{100.0 * k / n:.1f} %" if n else "-"

    lines = [
        "# Import coverage of the model zoo",
        "",
        "Command (resumable: rows already in the CSV are kept; `--retry-failed` redoes failures):",
        "",
        "```",
        command,
        "```",
        "",
        "Every zoo architecture (random weights, batch 1, default input size) is exported with both torch "
        "exporters, imported into TVM Relax as exported (*raw*), normalised (`hybridperf.frontends.normalize`: bind "
        "input shapes, fold shape subgraphs) and imported again (`hybridperf.frontends.onnx_import.from_onnx`), then "
        "predicted on `h100-sxm` (`hybridperf.api.predict`). Export failures are failures of the torch "
        "exporter, listed apart; the shares below are of the exported files.",
        "",
        "| exporter | models | exported | imported raw | imported (normalised) | predicted | predict share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups = [(exp, [r for r in rows if r.exporter == exp]) for exp in sorted({r.exporter for r in rows})]
    groups.append(("all", rows))
    for exp, sub in groups:
        ex = [r for r in sub if r.export_ok]
        tried = [r for r in ex if r.import_raw_ok or r.raw_error]
        raw = f"{sum(r.import_raw_ok for r in tried)} of {len(tried)} tried" if tried else "not run"
        lines.append(
            f"| {exp} | {len(sub)} | {len(ex)} | {raw} | "
            f"{sum(r.import_norm_ok for r in ex)} ({pct(sum(r.import_norm_ok for r in ex), len(ex))}) | "
            f"{sum(r.predict_ok for r in ex)} | {pct(sum(r.predict_ok for r in ex), len(ex))} |"
        )
    lines += ["", "## Failures by cause", ""]
    by_cause: dict[str, list[str]] = {}
    for r in rows:
        if r.error:
            by_cause.setdefault(_cause(r.error), []).append(f"{r.model}/{r.exporter}")
    if not by_cause:
        lines.append("None.")
    for cause, who in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"- **{len(who)} x** `{cause}`: {', '.join(who)}")
    raw = Counter(_cause(r.raw_error) for r in rows if r.export_ok and r.raw_error)
    lines += ["", "## Raw import failures fixed by normalisation", ""]
    for cause, n in raw.most_common():
        lines.append(f"- {n} x `{cause}`")
    notes = Counter(r.predict_note for r in rows if r.predict_ok and r.predict_note)
    if notes:
        lines += ["", "## Predicted with a note", ""]
        for note, n in notes.most_common():
            lines.append(f"- {n} x {note}")
    lines += [
        "",
        "## Per model",
        "",
        "| model | exporter | export | raw | normalised | predict | nodes before -> after | file MB | normalise s | import s | error |",
        "|---|---|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        nodes = f"{r.nodes_before} -> {r.nodes_after}" if r.nodes_after else str(r.nodes_before or "")
        raw = _yn(r.import_raw_ok) if (r.import_raw_ok or r.raw_error) else "-"
        lines.append(
            f"| {r.model} | {r.exporter} | {_yn(r.export_ok)} | {raw} | {_yn(r.import_norm_ok)} | "
            f"{_yn(r.predict_ok)} | {nodes} | {r.file_mb} | {r.normalize_s} | {r.import_s} | {r.error[:140]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.coverage", description=__doc__.splitlines()[0])
    p.add_argument("--models", help="comma-separated zoo names (default: all)")
    p.add_argument("--exporters", default="legacy,dynamo")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--out-dir", type=Path, default=Path(".zoo"), help="export cache")
    p.add_argument("--csv", type=Path, default=RESULTS)
    p.add_argument("--device", default=DEFAULT_DEVICE, help="device spec id used for the predict stage")
    p.add_argument("--no-predict", action="store_true")
    p.add_argument("--no-raw", action="store_true", help="skip the import of the file as exported")
    p.add_argument("--resume", action="store_true", help="keep rows already in the CSV")
    p.add_argument("--retry-failed", action="store_true", help="with --resume: redo every row that failed (export included)")
    p.add_argument("--isolate", action="store_true", help="one subprocess per row (survives crashes)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per row with --isolate")
    p.add_argument("--md", type=Path, help="also write the markdown report here")
    p.add_argument("--report-only", action="store_true", help="run nothing: print/write the report of the CSV")
    p.add_argument("--one", help=argparse.SUPPRESS)  # NAME:EXPORTER, internal, prints one JSON row
    args = p.parse_args(argv)

    if args.one:
        name, exporter = args.one.split(":")
        try:
            row = run_one(name, exporter, args.batch, args.out_dir, args.device, not args.no_predict, not args.no_raw)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            row = Row(name, exporter, error=f"harness: {first_line(exc)}")
        print(json.dumps(asdict(row)))
        return 0

    from benchmarks import zoo

    names = args.models.split(",") if args.models else [e.name for e in zoo.list_models()]
    exporters = args.exporters.split(",")
    rows = _read_csv(args.csv) if (args.resume or args.report_only) else []
    if args.report_only:
        names = []
    if args.retry_failed:
        rows = [r for r in rows if not r.error]
    done = {(r.model, r.exporter) for r in rows}
    for exporter in exporters:
        for name in names:
            if (name, exporter) in done:
                continue
            if args.isolate:
                row = _run_isolated(name, exporter, args)
            else:
                try:
                    row = run_one(name, exporter, args.batch, args.out_dir, args.device, not args.no_predict, not args.no_raw)
                except Exception as exc:  # noqa: BLE001
                    row = Row(name, exporter, error=f"harness: {first_line(exc)}")
                gc.collect()
            rows.append(row)
            _write_csv(args.csv, rows)
            print(format_table([row]).splitlines()[-1], flush=True)
    print()
    print(format_table(rows))
    print()
    print(format_summary(rows))
    if args.md:
        order = {(n, e): i for i, (e, n) in enumerate((e, n.name) for e in ("legacy", "dynamo") for n in zoo.list_models())}
        rows.sort(key=lambda r: order.get((r.model, r.exporter), len(order)))
        command = "taskset -c 1 nice python -m benchmarks.coverage --isolate --resume --md benchmarks/results/coverage.md"
        args.md.write_text(format_markdown(rows, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
