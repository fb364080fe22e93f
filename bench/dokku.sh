#!/usr/bin/env bash
# Measured against Dokku itself, where a real Dokku is installed with this plugin: the same app's
# `dokku ps:rebuild`, alternately with its tasks taken over (core-tasks replace: this plugin runs
# them) and with `defer` (Dokku's own app-json runs the same tasks), ROUNDS times each (default
# 5), medians and their ratio. As root:
#   bash bench/dokku.sh APP
# APP must be deployed already, with app.json and Procfile tasks. Leaves core-tasks unset (the
# default). Never part of the test suite: durations on shared machines are noisy.
set -euo pipefail
app=${1:?usage: bench/dokku.sh APP}
rounds=${ROUNDS:-5}
command -v dokku >/dev/null || { echo "bench/dokku.sh: no dokku on this machine" >&2; exit 1; }

restore() { dokku deploy-tasks:set "$app" core-tasks >/dev/null; }
trap restore EXIT

# One rebuild under MODE; prints its seconds.
rebuild() {
  dokku deploy-tasks:set "$app" core-tasks "$1" >/dev/null
  local started ended
  started=$(date +%s.%N)
  dokku ps:rebuild "$app" >/dev/null 2>&1
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f\n", b - a }'
}

rebuild replace >/dev/null
rebuild defer >/dev/null
replace=() defer=()
for ((i = 0; i < rounds; i++)); do
  replace+=("$(rebuild replace)")
  defer+=("$(rebuild defer)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r=$(median "${replace[@]}")
d=$(median "${defer[@]}")
echo "rounds: $rounds (alternating)"
echo "dokku ps:rebuild $app, tasks run by deploy-tasks (replace): ${r} s"
echo "dokku ps:rebuild $app, tasks run by Dokku's app-json (defer): ${d} s"
echo "ratio: $(awk -v r="$r" -v d="$d" 'BEGIN { printf "%.2f", r / d }')x"
