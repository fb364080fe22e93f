#!/usr/bin/env bash
# The benchmark (figures in the README). As root on a Debian machine:
#   bash bench/run.sh            # ROUNDS=N sets the runs per figure (default 15)
# Installs and starts what it needs (tests/setup.sh), installs the plugin into a temporary plugin
# path, then measures against the floor: a bare `docker run --rm` of the same image doing the
# same no-op. Never part of the test suite: durations on shared machines are noisy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tests/setup.sh >/dev/null
work=$(mktemp -d /tmp/deploy-tasks-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The design's triggers, called one by one, on a lib root of the benchmark's own (a Dokku on the
# machine must neither choose the trigger set nor have its apps taken over).
PLUGIN_AVAILABLE_PATH=$work/plugins/available PLUGIN_ENABLED_PATH=$work/plugins/enabled \
  DOKKU_LIB_ROOT=$work/lib DOKKU_DEPLOY_TASKS_TRIGGERS=design ./install.sh >/dev/null
python3 bench/bench.py "$work"
