#!/bin/bash
# One CPU measured with 1 and 2 onnxruntime threads in alternating blocks of rounds, so that both settings share the
# host's drift (benchmarks/cpu_thread_scaling.py, INTERLEAVED): `hybridperf probe` with 1 thread (core 1) and then 2
# (cores 0-1) back to back, blocks of BLOCK rounds alternating 1 thread / 2 threads until ROUNDS rounds a setting,
# then the two probes again. Nothing else should run during the 2-thread blocks. Run from the repository root:
#   bash benchmarks/interleaved_threads.sh SETTING_1T SETTING_2T SUFFIX SEED_1T SEED_2T [ROUNDS] [BLOCK]
# e.g. (2026-12-06): bash benchmarks/interleaved_threads.sh host-xeon480-1c host-xeon480-2c alt 77 78 6 2
set -u
[ $# -ge 5 ] || { echo "usage: $0 SETTING_1T SETTING_2T SUFFIX SEED_1T SEED_2T [ROUNDS] [BLOCK]" >&2; exit 2; }
ONE=$1; TWO=$2; A=calibration/$1-$3; B=calibration/$2-$3; S1=$4; S2=$5; ROUNDS=${6:-6}; BLOCK=${7:-2}
PY=${PY:-.venv/bin/python}; H=${H:-.venv/bin/hybridperf}
mkdir -p "$A" "$B"; lscpu > "$A/lscpu.txt"; lscpu > "$B/lscpu.txt"
probe() {  # cores, directory, setting, tag
    echo "probe $3-$4 $(date -u +%FT%T)"
    HYBRIDPERF_HOME=$(mktemp -d) nice -n -20 taskset -c "$1" "$H" probe --out "$2/$3-$4.yaml" --id "$3-$4" || exit 3
}
rounds() {  # cores, directory, device, threads, seed, rounds
    echo "$3 ($4 thread(s)) to round $6 $(date -u +%FT%T)"
    nice -n -20 taskset -c "$1" "$PY" -m benchmarks.collect_cpu rounds --out "$2" --device "$3" --threads "$4" \
        --batches 1,2 --default-size --rounds "$6" --seed "$5" > /dev/null || exit 3
}
probe 1 "$A" "$ONE" probe-before; probe 0,1 "$B" "$TWO" probe-before
for ((n = BLOCK; n <= ROUNDS; n += BLOCK)); do
    rounds 1 "$A" "$ONE" 1 "$S1" "$n"; rounds 0,1 "$B" "$TWO" 2 "$S2" "$n"
done
probe 1 "$A" "$ONE" probe-after; probe 0,1 "$B" "$TWO" probe-after
for x in "$A:$ONE" "$B:$TWO"; do
    d=${x%%:*}; s=${x#*:}
    taskset -c 0 "$PY" -m benchmarks.collect_cpu featurize --out "$d" --device "$d/$s-probe-before.yaml" > /dev/null || exit 3
done
echo "done $(date -u +%FT%T)"
