#!/usr/bin/env bash
# The test command (README): on a fresh Debian machine, as root, installs and starts what the
# tests need (tests/setup.sh: docker.io, a dockerd, offline base images), then runs the format
# check, clippy, and the whole suite against the real engine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tests/setup.sh
export DOCKER_BIN=${DOCKER_BIN:-$(command -v /usr/bin/docker || command -v docker)}

echo "-----> cargo fmt --check"
cargo fmt --all -- --check
echo "-----> cargo clippy"
cargo clippy --quiet --all-targets -- -D warnings
echo "-----> cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --quiet --no-fail-fast -- --test-threads "${TEST_THREADS:-4}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "summary: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
exit "$status"
