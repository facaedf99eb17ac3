# Sourced by the user-flow scripts (first_user_flow.sh, calibrate_twenty.sh): ROOT (the checkout), H (the hybridperf
# command: $HYBRIDPERF, else the checkout's .venv), W (the work folder: the script's first argument, new or empty, else
# a fresh temporary one) with an empty data home (HYBRIDPERF_HOME=$W/home) and the folders models/ and out/.
# The caller sets FLOW to its name for the error line, and passes its first argument.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=${HYBRIDPERF:-$ROOT/.venv/bin/hybridperf}
W=${1:-$(mktemp -d)}
if [ -n "$(ls -A "$W" 2>/dev/null)" ]; then echo "$FLOW: $W is not empty; name a new or empty folder" >&2; exit 2; fi
export HYBRIDPERF_HOME=$W/home
mkdir -p "$W/models" "$W/out"
