"""Behaviour diff of two git refs: ``predict --format json``, exit codes and help texts.

Issue 11 ("Must show"): the regroup by pipeline stage must leave behaviour
unchanged. For each ref this script makes a temporary ``git worktree`` under
/tmp, runs ONE Python process (``PYTHONPATH=<worktree>``, the project venv's
python, cwd = the worktree) that imports that ref's package and calls
``hybridperf.cli.main`` in-process for every model x device:

    main(["predict", MODEL, "-d", DEVICE, "--format", "json"])

capturing stdout/stderr and the exit code, plus ``hybridperf --help`` and each
subcommand's ``--help``. Timing fields (``timings_s`` and any key naming wall
time) and paths are removed, the records are written to a JSON file per ref,
and the two sets are diffed: a table of models x devices compared, identical
count, and for each difference the JSON path of the first differing key.

With ``--text`` it also compares every text rendering (what formatting can
change): ``predict --format table`` of each model x device, ``devices``, and per
device ``devices show``, ``check``, ``mig``, ``predict-many`` and ``report --html``
on the examples. A ref may also be a directory holding a checkout (e.g. a
``git worktree`` with one change applied), used as it stands: that compares one
uncommitted change in isolation.

Exit 0 when everything is identical, 1 otherwise.

Usage::

    taskset -c 0 .venv/bin/python benchmarks/behaviour_diff.py fc23f8b 0285c04 --zoo .zoo
    git worktree add --detach /tmp/wt HEAD && git diff -- FILES | git -C /tmp/wt apply
    taskset -c 0 .venv/bin/python benchmarks/behaviour_diff.py HEAD /tmp/wt --zoo .zoo --text
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = "/work/main/.venv/bin/python"
DEVICES = ("host-epyc-1c", "t4", "a100-sxm-80gb")

#: small-to-medium zoo files (under ~45 MB; the multi-hundred-MB and multi-GB exports are skipped)
DEFAULT_ZOO = sorted([
    "albert_base_b1_s128_legacy.onnx",
    "bert_tiny_b1_s128_legacy.onnx",
    "densenet121_b1_r224_legacy.onnx",
    "efficientnet_b0_b1_r224_legacy.onnx",
    "electra_small_b1_s128_legacy.onnx",
    "googlenet_b1_r224_legacy.onnx",
    "hf_mobilevit_small_b1_r256_legacy.onnx",
    "hf_segformer_b0_b1_r512_legacy.onnx",
    "lraspp_mobilenet_v3_large_b1_r512_legacy.onnx",
    "mnasnet1_0_b1_r224_legacy.onnx",
    "mobilenet_v2_b1_r224_legacy.onnx",
    "mobilenet_v2_b2_r224_legacy.onnx",
    "mobilenet_v3_large_b1_r224_legacy.onnx",
    "mobilenet_v3_small_b1_r224_legacy.onnx",
    "regnet_x_1_6gf_b1_r224_legacy.onnx",
    "regnet_y_400mf_b1_r224_legacy.onnx",
    "resnet18_b1_r224_legacy.onnx",
    "shufflenet_v2_x1_0_b1_r224_legacy.onnx",
    "shufflenet_v2_x1_0_b2_r224_legacy.onnx",
    "squeezenet1_0_b1_r224_legacy.onnx",
    "squeezenet1_0_b2_r224_legacy.onnx",
    "squeezenet1_1_b1_r224_legacy.onnx",
])

#: the child: runs inside one ref's worktree, imports that ref's package
CHILD = r'''
import contextlib, io, json, sys, time, traceback
spec = json.loads(sys.argv[1])
import hybridperf, hybridperf.cli as cli
assert hybridperf.__file__.startswith(spec["root"]), hybridperf.__file__

def call(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # recorded, not raised: the diff shows it
            rc = "raised " + type(exc).__name__ + ": " + str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return int(rc) if isinstance(rc, int) else rc, out.getvalue(), err.getvalue()

res = {"help": {}, "predict": {}}
for argv in spec["help"]:
    rc, out, err = call(argv)
    res["help"][" ".join(argv)] = {"exit": rc, "stdout": out, "stderr": err}
for model, path, extra in spec["models"]:
    for dev in spec["devices"]:
        t0 = time.perf_counter()
        rc, out, err = call(["predict", path, "-d", dev, "--format", "json"] + extra)
        try:
            js = json.loads(out)
        except ValueError:
            js = None
        res["predict"][model + " @ " + dev] = {"exit": rc, "json": js, "stdout": None if js is not None else out, "stderr": err}
        print(f"{model} @ {dev}: exit {rc} ({time.perf_counter() - t0:.1f} s)", file=sys.__stderr__, flush=True)
if spec.get("text"):  # every rendering of a result: what formatting can change
    res["text"] = {}
    for label, argv in spec["text"]:
        html = argv[argv.index("--html") + 1] if "--html" in argv else None
        rc, out, err = call(argv)
        if html is not None:
            try:
                out = open(html).read()
            except OSError:
                out = None
        res["text"][label] = {"exit": rc, "stdout": out, "stderr": err}
        print(f"text {label}: exit {rc}", file=sys.__stderr__, flush=True)
json.dump(res, open(spec["out"], "w"))
'''

SUBCOMMANDS = ("predict", "annotate", "devices", "probe", "measure", "calibrate", "check", "mig", "report", "predict-many")


def _is_timing_key(key: str) -> bool:
    k = key.lower()
    return k == "timings_s" or "wall" in k or k in ("elapsed_s", "duration_s", "seconds_taken")


def scrub(obj, prefixes: list[str]):
    """Drop timing keys and paths (the worktree/zoo prefixes and the 'model' path field)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if _is_timing_key(k):
                continue
            if k in ("model", "path", "model_path", "file") and isinstance(v, str):
                out[k] = os.path.basename(v)
                continue
            out[k] = scrub(v, prefixes)
        return out
    if isinstance(obj, list):
        return [scrub(v, prefixes) for v in obj]
    if isinstance(obj, str):
        for p in prefixes:
            obj = obj.replace(p, "<ROOT>")
        return obj
    return obj


def first_diff(a, b, path="$"):
    """JSON path of the first differing key (None when equal) and a short description."""
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return path, f"type {type(a).__name__} vs {type(b).__name__}: {_short(a)} vs {_short(b)}"
    if isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                return f"{path}.{k}", f"only in A: {_short(a[k])}"
            if k not in a:
                return f"{path}.{k}", f"only in B: {_short(b[k])}"
            d = first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        if list(a) != list(b):
            return path, "same keys, different order"
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return path, f"length {len(a)} vs {len(b)}"
        return None
    if a != b:
        if isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
            la, lb = a.splitlines(), b.splitlines()
            for i, (x, y) in enumerate(zip(la, lb)):
                if x != y:
                    at = next((j for j, (u, v) in enumerate(zip(x, y)) if u != v), min(len(x), len(y)))
                    lo = max(0, at - 40)  # a window around the first differing character of a long line
                    return f"{path} line {i + 1}", f"{x[lo:at + 40].strip()!r} vs {y[lo:at + 40].strip()!r}"
            return f"{path} line {min(len(la), len(lb)) + 1}", f"{len(la)} vs {len(lb)} lines"
        return path, f"{_short(a)} vs {_short(b)}"
    return None


def all_diffs(a, b, path="$") -> list[str]:
    """Every differing leaf path (list indices folded to [*] by the caller for the summary)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                out.append(f"{path}.{k}")
            else:
                out.extend(all_diffs(a[k], b[k], f"{path}.{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in all_diffs(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def _short(v, n=90):
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _label(ref: str) -> str:
    """A ref's name in file names: a directory ref by its folder name."""
    return Path(ref).name if Path(ref).is_dir() else ref


def run_ref(ref: str, models: list[tuple[str, str, bool]], devices, out_dir: Path, zoo: Path | None,
            text: list | None = None) -> dict:
    """Run one ref's package over every model x device (and the text views when ``text``)."""
    given = Path(ref).is_dir()  # a checkout as it stands, uncommitted changes included: used, not removed
    wt = Path(ref).resolve() if given else Path(tempfile.mkdtemp(prefix=f"behdiff-{ref}-", dir="/tmp"))
    if not given:
        wt.rmdir()
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(wt), ref], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        raw = out_dir / f"raw_{_label(ref)}.json"
        (out_dir / _label(ref)).mkdir(exist_ok=True)
        model_args = [(label, (f"examples/{name}" if in_examples else str(zoo / name)), extra)
                      for label, name, extra, in_examples in models]
        spec = {
            "root": str(wt),
            "out": str(raw),
            "devices": list(devices),
            "models": model_args,
            "help": [["--help"]] + [[c, "--help"] for c in SUBCOMMANDS],
            "text": [(label, [a.replace("{out}", str(out_dir / _label(ref))).replace("{zoo}", str(zoo)) for a in argv])
                     for label, argv in text or []],
        }
        env = dict(os.environ, PYTHONPATH=str(wt), COLUMNS="100", PYTHONHASHSEED="0")
        env.pop("VIRTUAL_ENV", None)
        t0 = time.perf_counter()
        print(f"[{ref}] worktree {wt}", file=sys.stderr, flush=True)
        subprocess.run([PYTHON, "-c", CHILD, json.dumps(spec)], cwd=wt, env=env, check=True)
        print(f"[{ref}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        res = json.loads(raw.read_text())
        prefixes = ([str(out_dir / _label(ref)) + "/", str(wt) + "/", str(wt)]
                    + ([str(zoo) + "/", str(zoo)] if zoo else []))
        res = scrub(res, prefixes)
        (out_dir / f"behaviour_{_label(ref)}.json").write_text(json.dumps(res, indent=1, sort_keys=False))
        raw.unlink()
        return res
    finally:
        if not given:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(wt)], check=False)


def _text_views(models, examples: list[str], devices) -> list[tuple[str, list[str]]]:
    """(label, argv) of every text rendering compared with --text; ``{out}`` is the ref's output folder."""
    views = [("devices", ["devices"])]
    for label, path, extra, in_examples in models:
        arg = f"examples/{path}" if in_examples else None
        for dev in devices:
            views.append((f"predict table {label} @ {dev}",
                          ["predict", arg or "{zoo}/" + path, "-d", dev, "--format", "table"] + extra))
    ex = [f"examples/{n}" for n in examples]
    for dev in devices:
        views += [
            (f"devices show {dev}", ["devices", "show", dev]),
            (f"check @ {dev}", ["check", *ex, "--batch", "1", "-d", dev, "--max-latency", "1ms", "--max-memory", "64MiB",
                                "--max-energy", "5mJ"]),
            (f"mig @ {dev}", ["mig", ex[-1], "-d", dev]),
            (f"predict-many @ {dev}", ["predict-many", "examples", "--batch", "1", "-d", dev]),
            (f"report --html @ {dev}", ["report", ex[-1], "-d", dev, "--html", "{out}/report_" + dev + ".html"]),
        ]
    return views


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref_a", help="a git ref, or a directory holding a checkout (used as it stands)")
    ap.add_argument("ref_b", help="likewise")
    ap.add_argument("--text", action="store_true",
                    help="also compare every text rendering: predict --format table of each model x device, and per device "
                         "devices show, check, mig, predict-many and report --html on the examples")
    ap.add_argument("--zoo", type=Path, default=None, help="directory of zoo .onnx files (e.g. .zoo)")
    ap.add_argument("--zoo-models", nargs="*", default=DEFAULT_ZOO, help="file names under --zoo (default: 22 small-to-medium)")
    ap.add_argument("--devices", nargs="*", default=list(DEVICES))
    ap.add_argument("--out-dir", type=Path, default=Path(tempfile.gettempdir()) / "behaviour_diff")
    args = ap.parse_args(argv)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    if Path(args.ref_a).is_dir():
        examples = sorted(p.name for p in (Path(args.ref_a) / "examples").glob("*.onnx"))
    else:
        examples_a = set(subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", args.ref_a, "examples/"],
                                        capture_output=True, text=True, check=True).stdout.split())
        examples = sorted(Path(p).name for p in examples_a if p.endswith(".onnx"))
    # (label, file, extra argv, from examples/): each example plain and with --batch 1, which binds
    # a symbolic batch dim (resnet_like's N) so its prediction is compared and not only its error
    models = [m for n in examples for m in ((n, n, [], True), (f"{n} --batch 1", n, ["--batch", "1"], True))]
    zoo = args.zoo.resolve() if args.zoo else None
    if zoo:
        for n in sorted(args.zoo_models):
            if not (zoo / n).is_file():
                ap.error(f"zoo model not found: {zoo / n}")
            models.append((n, n, [], False))

    text = _text_views(models, examples, args.devices) if args.text else None
    res = {ref: run_ref(ref, models, args.devices, args.out_dir, zoo, text) for ref in (args.ref_a, args.ref_b)}
    a, b = res[args.ref_a], res[args.ref_b]

    rows, diffs = [], []
    for section in ("predict", "help") + (("text",) if args.text else ()):
        keys = list(a[section]) + [k for k in b[section] if k not in a[section]]
        same = 0
        for k in keys:
            if k not in a[section] or k not in b[section]:
                diffs.append((section, k, "$", "missing in one ref", ["$"]))
                continue
            d = first_diff(a[section][k], b[section][k])
            if d is None:
                same += 1
            else:
                import re

                every = sorted({re.sub(r"\[\d+\]", "[*]", p) for p in all_diffs(a[section][k], b[section][k])})
                diffs.append((section, k, d[0], d[1], every))
        rows.append((section, len(keys), same, len(keys) - same))

    n_models = len(models)
    n_zoo = n_models - 2 * len(examples)
    print(f"\nbehaviour diff {args.ref_a} (A) vs {args.ref_b} (B): {n_models} model runs x {len(args.devices)} devices "
          f"({len(examples)} examples, each plain and with --batch 1, + {n_zoo} zoo models)\n")
    print("| compared | items | identical | differing |")
    print("| --- | ---: | ---: | ---: |")
    for section, n, same, bad in rows:
        label = {"predict": f"predict --format json ({n_models} model runs x {len(args.devices)} devices, exit codes incl.)",
                 "help": "--help texts + exit codes (hybridperf and each subcommand)",
                 "text": "text views (predict table per model x device; devices, check, mig, predict-many, HTML per device)"}[section]
        print(f"| {label} | {n} | {same} | {bad} |")
    exits = {}
    for k, v in a["predict"].items():
        exits.setdefault(v["exit"], 0)
        exits[v["exit"]] += 1
    print(f"\nexit codes of A's predictions: {exits}")
    if diffs:
        print("\n| section | item | first differing key | A vs B | all differing keys |")
        print("| --- | --- | --- | --- | --- |")
        for section, k, path, what, every in diffs:
            print(f"| {section} | {k} | `{path}` | {what.replace('|', '/')} | {', '.join(f'`{e}`' for e in every)} |")
    else:
        print("\nall identical")
    print(f"\nper-ref JSON: {args.out_dir}/behaviour_<ref>.json")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
