"""``hybridperf annotate MODEL --device ID``: Relax IR with each binding's cost as a comment. MODEL is a model file
as for ``predict``, or a Relax module: TVMScript text (``.py``, ``.tvmscript``: ``mod.script()``, or this command's
``--show-meta`` output) or TVM's JSON (``.json``: ``tvm.ir.save_json(mod)``)."""

from __future__ import annotations

import argparse
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (MODEL_HELP, add_model_arguments, add_runtime_argument,
                                         native_stderr_silenced, shapes_from_args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, model_help=MODEL_HELP + ", or a Relax module: TVMScript (.py, .tvmscript) or TVM JSON "
                                              "(.json)")
    p.add_argument("--show-meta", action="store_true",
                   help="print the module's constants (every weight: large) so that the text parses back with "
                        "tvm.script.from_source; without it they read metadata[...]")
    # the runtime predict prices by default: until 2026-12-04 annotate had no --runtime and priced every device as
    # TVM does (constants folded), so on a GPU sheet its FLOPs and latency were not predict's (eager PyTorch)
    add_runtime_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.api import _annotation
    from hybridperf.commands._common import model_device_spec, print_warnings, runtime_from_args
    from hybridperf.report.annotate import annotate_text

    spec = model_device_spec(args)  # --shape and --batch checked first of all, before a probe of host
    shapes = shapes_from_args(args)
    runtime = runtime_from_args(args, spec)  # auto: the device kind's, as predict's
    with native_stderr_silenced(not args.verbose):  # refuses an untaken batch
        pred, module, _ = _annotation(args.model, spec, batch=args.batch, shapes=shapes, precision=args.precision,
                                      fused=not args.no_fuse, runtime=runtime)
    sys.stdout.write(annotate_text(pred, module, show_meta=args.show_meta, runtime=runtime) + "\n")
    print_warnings(pred)  # as predict's: e.g. a --precision the sheet has no peak for (until 2026-12-04 unsaid)
    return ExitCode.OK
