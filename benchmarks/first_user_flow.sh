#!/bin/bash
# A first-time user on this machine, as README "Two commands" describes it: an empty data home, `--device host`
# (every CPU the process may use as threads; nothing pinned), probe, zero-shot predictions, `calibrate --measure` on
# six batch-1 zoo exports, then two models it never measured, predicted and checked with `hybridperf measure` twice.
# Needs the zoo exports in .zoo/ (python -m benchmarks.zoo --export NAME --batch 1, with the torch environment).
# Usage: bash benchmarks/first_user_flow.sh [NEW_OR_EMPTY_WORKDIR] > benchmarks/results/first_user_flow_<host>.txt 2>&1
FLOW=first_user_flow
source "$(dirname "$0")/flow_workdir.sh" "$@"
for m in resnet18_b1_r224 squeezenet1_1_b1_r224 mobilenet_v3_small_b1_r224 efficientnet_b0_b1_r224 bert_tiny_b1_s128 \
         shufflenet_v2_x1_0_b1_r224 mnasnet1_0_b1_r224 regnet_y_400mf_b1_r224; do
    cp "$ROOT/.zoo/${m}_legacy.onnx" "$W/models/$m.onnx" || { echo "missing .zoo/${m}_legacy.onnx: export it first" >&2; exit 2; }
done
cd "$W"
date -u; lscpu | grep -E "Model name|CPU family|^Model:|Stepping"
/usr/bin/time -f "probe wall %e s" "$H" probe --host > out/probe.txt 2>&1; tail -n 20 out/probe.txt
for m in mnasnet1_0_b1_r224 regnet_y_400mf_b1_r224 resnet18_b1_r224; do
    "$H" predict models/$m.onnx --top 0 > out/pre_$m.txt 2>&1; head -n 3 out/pre_$m.txt
done
/usr/bin/time -f "calibrate wall %e s" "$H" calibrate --device host --measure models/resnet18_b1_r224.onnx \
    models/squeezenet1_1_b1_r224.onnx models/mobilenet_v3_small_b1_r224.onnx models/efficientnet_b0_b1_r224.onnx \
    models/bert_tiny_b1_s128.onnx models/shufflenet_v2_x1_0_b1_r224.onnx > out/calibrate.txt 2>&1; cat out/calibrate.txt
for m in mnasnet1_0_b1_r224 regnet_y_400mf_b1_r224; do
    "$H" predict models/$m.onnx --top 0 > out/post_$m.txt 2>&1; head -n 3 out/post_$m.txt
done
for r in 1 2; do for m in mnasnet1_0_b1_r224 regnet_y_400mf_b1_r224; do
    "$H" measure models/$m.onnx > out/measure_${m}_$r.txt 2>&1; echo "measure $m ($r)"; grep -E "^runtime|^latency" out/measure_${m}_$r.txt
done; done
date -u
