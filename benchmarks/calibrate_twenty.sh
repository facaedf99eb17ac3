#!/bin/bash
# README's advice for `calibrate --measure` ("about 20 different networks"), as a user on this machine would follow
# it: an empty data home, `--device host` (every CPU the process may use as threads), `probe --host`, then
# `calibrate --measure` on 20 batch-1 zoo exports (the first 20 networks of .zoo/ in alphabetical order, MobileViT-small
# left out: its activations collapse to subnormals and calibrate would leave it out anyway), default 4 rounds; the
# output's held-out errors are leave-one-model-out over the 20.
# Needs the zoo exports in .zoo/ (python -m benchmarks.collect_cpu export ... with the torch environment).
# Usage: bash benchmarks/calibrate_twenty.sh [NEW_OR_EMPTY_WORKDIR] > benchmarks/results/calibrate_twenty_<host>.txt 2>&1
FLOW=calibrate_twenty
source "$(dirname "$0")/flow_workdir.sh" "$@"
n=0
for f in $(ls "$ROOT"/.zoo/*_b1_*_legacy.onnx 2>/dev/null | sort); do
    case "$(basename "$f")" in hf_mobilevit_small_*) continue ;; esac
    cp "$f" "$W/models/$(basename "$f" _legacy.onnx).onnx"; n=$((n + 1))
    [ "$n" -eq 20 ] && break
done
if [ "$n" -lt 20 ]; then echo "calibrate_twenty: only $n batch-1 exports in .zoo/; export the zoo first" >&2; exit 2; fi
cd "$W"
date -u; lscpu | grep -E "Model name|CPU family|^Model:|Stepping"; ls models
/usr/bin/time -f "probe wall %e s" "$H" probe --host > out/probe.txt 2>&1; tail -n 3 out/probe.txt
/usr/bin/time -f "calibrate wall %e s" "$H" calibrate --device host --measure models > out/calibrate.txt 2>&1
grep -v "^calibrate: round" out/calibrate.txt
date -u
