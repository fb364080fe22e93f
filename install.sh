#!/usr/bin/env bash
# Builds the plugin in release mode and installs it for a Dokku-like host:
#   $PLUGIN_AVAILABLE_PATH/deploy-tasks   (default /var/lib/dokku/plugins/available)
#   $PLUGIN_ENABLED_PATH/deploy-tasks -> the above   (default /var/lib/dokku/plugins/enabled)
# The tree: plugin.toml, the triggers, `commands` and `subcommands/*` (deploy-tasks:*), and
# libexec/ (the commands' binary and the task containers' helper).
# Idempotent and non-interactive. `install.sh --uninstall` removes exactly those two.
set -euo pipefail

name=deploy-tasks
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
available=${PLUGIN_AVAILABLE_PATH:-/var/lib/dokku/plugins/available}
enabled=${PLUGIN_ENABLED_PATH:-/var/lib/dokku/plugins/enabled}
triggers=(pre-deploy post-release post-deploy)

fail() { echo " !     $*" >&2; exit 1; }

if [[ ${1:-} == --uninstall ]]; then
  if [[ -L $enabled/$name ]]; then rm -f "$enabled/$name"; fi
  rm -rf "${available:?}/$name"
  echo "-----> Uninstalled $name"
  exit 0
fi
[[ $# -eq 0 ]] || fail "usage: install.sh [--uninstall]"

command -v cargo >/dev/null 2>&1 || fail "cargo not found: install Rust (https://rustup.rs) and run install.sh again"
target=$(rustc -vV | sed -n 's/^host: //p')
[[ -n $target ]] || fail "cannot tell the host's Rust target from 'rustc -vV'"

echo "-----> Building $name (release, static, $target)"
# Static binaries: the helper runs inside any image, busybox included. `--target` keeps the
# static flag away from build scripts and proc-macros, which it would break.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --quiet --release --locked --target "$target" --manifest-path "$repo/Cargo.toml"
build=${CARGO_TARGET_DIR:-$repo/target}/$target/release

mkdir -p "$available" "$enabled"
staging=$(mktemp -d "$available/.$name.new.XXXXXX")
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/libexec"
for trigger in "${triggers[@]}"; do install -m 0755 "$build/$trigger" "$staging/$trigger"; done
# Task containers run it as any USER, so everyone may read and execute it.
install -m 0755 "$build/deploy-tasks-helper" "$staging/libexec/deploy-tasks-helper"
# The operators' commands: `commands` and `subcommands/*` are scripts that exec this binary.
install -m 0755 "$build/deploy-tasks" "$staging/libexec/deploy-tasks"
install -m 0644 "$repo/plugin.toml" "$staging/plugin.toml"
cp -R "$repo/plugins/$name/." "$staging/"
# Dokku runs only executable entry points; a checkout may have lost the mode bits.
chmod 0755 "$staging/dependencies" "$staging/commands" "$staging/subcommands" "$staging/subcommands/"*
chmod 0755 "$staging"

# Swap the whole tree in, so that a deploy running during an upgrade never sees half of it.
if [[ -e $available/$name ]]; then
  old=$(mktemp -d "$available/.$name.old.XXXXXX")
  mv "$available/$name" "$old/"
  mv "$staging" "$available/$name"
  rm -rf "$old"
else
  mv "$staging" "$available/$name"
fi
ln -sfn "$available/$name" "$enabled/$name"
echo "-----> Installed $name into $available/$name, enabled at $enabled/$name"
