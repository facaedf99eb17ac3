#!/usr/bin/env bash
# The package as a user gets it: build the wheel, install it (not editable) into a fresh venv, run the CLI
# and the Python API from an empty directory, and require the same prediction JSON as the editable install
# (apart from paths). Prints the wheel size and the stage's wall time.
#
#   .ci/wheel_check.sh [EDITABLE_PYTHON]      (default: .venv/bin/python, the README's editable install)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
ref_py=${1:-$repo/.venv/bin/python}
case $ref_py in /*) ;; *) ref_py=$repo/$ref_py ;; esac   # the checks below run from an empty directory
model=$repo/examples/squeezenet1_1.onnx
device=host-epyc-1c   # the device with a stored residual model: exercises both kinds of package data
start=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
quiet_pip() { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }  # this host's pip.conf

# setuptools' build/ and egg-info go to $tmp: no stale files from an earlier build in the wheel, none left here
printf '[build]\nbuild_base = %s/build\n[egg_info]\negg_base = %s\n' "$tmp" "$tmp" > "$tmp/setup.cfg"
DIST_EXTRA_CONFIG=$tmp/setup.cfg "$ref_py" -m pip wheel -q . --no-deps -w "$tmp/dist" 2> >(quiet_pip)
whl=$(echo "$tmp"/dist/hybridperf-*.whl)
echo "wheel: $(basename "$whl") $(stat -c %s "$whl") bytes ($(du -h "$whl" | cut -f1))"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --no-compile "$whl" 2> >(quiet_pip)
echo "installed with its dependencies in $((SECONDS - start)) s"

mkdir "$tmp/empty" "$tmp/home"
cd "$tmp/empty"
export HYBRIDPERF_HOME=$tmp/home   # no user-calibrated models: only what the wheel ships
hp=$tmp/venv/bin/hybridperf
"$tmp/venv/bin/python" -c 'import hybridperf, sys; p = hybridperf.__file__; print("installed at", p); sys.exit("site-packages" not in p)'
"$hp" devices
"$hp" predict "$model" -d "$device" --format json > wheel.json
"$hp" check "$model" -d "$device" --max-latency 1s --max-memory 1GiB
rc=0; "$hp" check "$model" -d "$device" --max-latency 1us > /dev/null || rc=$?
[ "$rc" = 1 ] || { echo "check over budget: expected exit 1, got $rc" >&2; exit 1; }
"$tmp/venv/bin/python" - "$model" "$device" <<'EOF'
import sys

import hybridperf

model, device = sys.argv[1:]
pred = hybridperf.predict(model, device)
assert pred.latency_s > 0 and "residual" in pred.calibration, pred.calibration
report = hybridperf.check(model, device, max_latency="1s")
assert report.passed, report
print(f"API: predict {pred.latency_s * 1e3:.3f} ms on {device} [{pred.calibration}]; check passed")
EOF
cat > "$tmp/same.py" <<'EOF'
"""same.py WHEEL.json EDITABLE.json [TEXT]: the two predictions are equal apart from file names and wall
times, and (when given) the JSON mentions TEXT (or one of its '|'-separated alternatives)."""
import json
import sys


def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("model", "path", "timings_s")}
    return [strip(v) for v in x] if isinstance(x, list) else x


wheel, editable = (strip(json.load(open(f))) for f in sys.argv[1:3])
if wheel != editable:
    diff = sorted(k for k in set(wheel) | set(editable) if wheel.get(k) != editable.get(k))
    raise SystemExit(f"{sys.argv[1]}: wheel and editable predictions differ in {diff}")
if len(sys.argv) > 3 and not any(t in json.dumps(wheel) for t in sys.argv[3].split("|")):
    raise SystemExit(f"{sys.argv[1]}: expected {sys.argv[3]!r} in the prediction")
print(f"{sys.argv[1]}: identical to the editable install's (latency {wheel['totals']['latency_s'] * 1e3:.3f} ms)")
EOF
"$ref_py" -m hybridperf predict "$model" -d "$device" --format json > editable.json
"$tmp/venv/bin/python" "$tmp/same.py" wheel.json editable.json
# a GPU sheet with no measurements: the shipped cross-device model prices it zero-shot; one of its training GPUs
# says it is not (t4 said zero-shot until 2026-12-05)
"$hp" predict "$model" -d l4 --format json > wheel-l4.json
"$ref_py" -m hybridperf predict "$model" -d l4 --format json > editable-l4.json
"$tmp/venv/bin/python" "$tmp/same.py" wheel-l4.json editable-l4.json "zero-shot from spec"
"$hp" predict "$model" -d t4 --format json > wheel-t4.json
"$ref_py" -m hybridperf predict "$model" -d t4 --format json > editable-t4.json
"$tmp/venv/bin/python" "$tmp/same.py" wheel-t4.json editable-t4.json "not zero-shot: t4 is one of its training GPUs"
[ -z "$(ls -A "$tmp/home")" ] || { echo "a read-only command wrote into HYBRIDPERF_HOME" >&2; exit 1; }
# the default device `host` (this machine): the wheel run probes it once into $HYBRIDPERF_HOME/hosts/, the
# editable run finds that probe (same HYBRIDPERF_HOME) and must predict the same: zero-shot, or, on a machine whose
# CPU and threads are a training host's, with that host's offset, or, on a training CPU run with other threads, "not
# zero-shot" (since 2026-12-04 evening)
"$hp" predict "$model" --format json > wheel-host.json
"$ref_py" -m hybridperf predict "$model" --format json > editable-host.json
[ "$(ls -A "$tmp/home")" = hosts ] || { echo "predict --device host wrote more than hosts/ into HYBRIDPERF_HOME" >&2; exit 1; }
"$tmp/venv/bin/python" "$tmp/same.py" wheel-host.json editable-host.json "zero-shot from spec|the CPU of its training host|was trained on with other threads"
echo "wheel stage: ok in $((SECONDS - start)) s"
