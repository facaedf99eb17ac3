#!/usr/bin/env bash
# Plan (30)'s runs (benchmarks/second_cpu.py): every blind set measured with 1 thread pinned to core 1 (8 rounds),
# then with 2 threads on both cores (16 rounds), each until steady (--steady 3), on the probed sheets of RUN.
# Usage: bash benchmarks/second_cpu.sh RUN PREFIX [SUFFIX [THREADS [SET ...]]]
#   SUFFIX: -retest for a retest's directories ("" for none); THREADS: "1 2" (default), "1" or "2";
#   SET: the sets to measure by name (default: all seven, in the order below)
set -euo pipefail
run=$1 prefix=$2 suffix=${3:-} threads_list=${4:-1 2}
shift $(( $# < 4 ? $# : 4 ))
sets="mathops:mathops-set gather:gather-set popular:popular-set ssm:ssm-set ssm2:ssm-set2 activations:activation-set deformable:deformable-set"
for threads in $threads_list; do
  for pair in $sets; do
    name=${pair%%:*} zoo=.zoo/${pair#*:}
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    sheet=$run/$prefix-${threads}c.yaml
    out=$run/$name/$prefix-${threads}c$suffix
    if [ "$threads" = 1 ]; then
      nice -n -20 taskset -c 1 hybridperf calibrate --device "$sheet" --measure "$zoo" --rounds 8 --steady 3 --out "$out"
    else
      nice -n -20 taskset -c 0,1 hybridperf calibrate --device "$sheet" --measure "$zoo" --rounds 16 --steady 3 --out "$out"
    fi
  done
done
