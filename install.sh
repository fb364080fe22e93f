#!/usr/bin/env bash
# Builds the plugin in release mode (static binaries) and installs it for a Dokku-like host:
#
#   install.sh              installs the tree into $PLUGIN_AVAILABLE_PATH/deploy-tasks (default
#                           $DOKKU_LIB_ROOT/plugins/available), swapping the whole tree in at once,
#                           and enables it: $PLUGIN_ENABLED_PATH/deploy-tasks -> that tree
#                           (default $DOKKU_LIB_ROOT/plugins/enabled).
#   install.sh --in-place   puts the built part of the tree at the root of this checkout, each file
#                           replaced at once: what the `install` trigger runs after `dokku
#                           plugin:install <git url>` cloned the repository into the plugin path.
#   install.sh --uninstall  removes exactly what the first form installed: the tree and the link.
#
# The tree: plugin.toml, the triggers, `dependencies`, `commands` and `subcommands/*`
# (deploy-tasks:*), and libexec/ (the commands' binary and the task containers' helper).
# Idempotent and non-interactive. A failed build changes nothing that was installed.
# As root, what it creates under $DOKKU_LIB_ROOT (default /var/lib/dokku) goes to the `dokku` user
# (else to the owner of $DOKKU_LIB_ROOT), as Dokku does with its plugin directories.
set -euo pipefail

name=deploy-tasks
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib_root=${DOKKU_LIB_ROOT:-/var/lib/dokku}
# As the `dokku` command derives them: PLUGIN_PATH is $DOKKU_LIB_ROOT/plugins.
available=${PLUGIN_AVAILABLE_PATH:-$lib_root/plugins/available}
enabled=${PLUGIN_ENABLED_PATH:-$lib_root/plugins/enabled}
# The triggers the host fires for the phases: a Dokku of 0.34 or later (its app-json plugin
# answers `pre-release-builder`) fires `pre-release-builder`, `post-release-builder` and
# `post-deploy`; on it a `pre-deploy` file would make the registry plugin warn on every deploy
# and run the predeploy a second time. Other hosts fire the design's three.
# DOKKU_DEPLOY_TASKS_TRIGGERS=dokku|design|all overrides the choice.
core_available=${PLUGIN_CORE_AVAILABLE_PATH:-$lib_root/core-plugins/available}
trigger_set=${DOKKU_DEPLOY_TASKS_TRIGGERS:-}
if [[ -z $trigger_set ]]; then
  trigger_set=design
  for dir in "$core_available" "$available"; do
    if [[ -e $dir/app-json/pre-release-builder ]]; then trigger_set=dokku; fi
  done
fi
case "$trigger_set" in
  dokku) phase_triggers=(pre-release-builder post-release-builder post-deploy) ;;
  design) phase_triggers=(pre-deploy post-release post-deploy) ;;
  all) phase_triggers=(pre-deploy post-release post-deploy pre-release-builder post-release-builder) ;;
  *) echo " !     DOKKU_DEPLOY_TASKS_TRIGGERS is \`$trigger_set\`: use dokku, design or all" >&2; exit 1 ;;
esac
# Static binaries of their own, for the design's phase triggers; every other trigger is a link to
# the multi-call libexec/deploy-tasks, which answers by the name it is called by.
own_binaries=(pre-deploy post-release post-deploy)
links=(post-extract core-post-deploy uninstall post-app-rename-setup post-app-clone-setup post-delete report)
for trigger in "${phase_triggers[@]}"; do
  case "$trigger" in pre-release-builder | post-release-builder) links+=("$trigger") ;; esac
done
every_trigger=(pre-deploy post-release post-deploy pre-release-builder post-release-builder "${links[@]}")

fail() { echo " !     $*" >&2; exit 1; }

mode=install
case "${1:-}" in
  "") ;;
  --in-place) mode=in-place ;;
  --uninstall) mode=uninstall ;;
  *) fail "usage: install.sh [--in-place | --uninstall]" ;;
esac
[[ $# -le 1 ]] || fail "usage: install.sh [--in-place | --uninstall]"

# --- Ownership: what root creates under DOKKU_LIB_ROOT is given to the user deploys run as. ---

# The reference owner as uid:gid, the same the binaries use (src/ownership.rs): the `dokku` user
# and its primary group from /etc/passwd, else the owner of DOKKU_LIB_ROOT; empty when not root.
owner=
if [[ $EUID -eq 0 ]]; then
  if entry=$(grep -m 1 '^dokku:' /etc/passwd 2>/dev/null); then
    IFS=: read -r _ _ uid gid _ <<<"$entry"
    owner=$uid:$gid
  elif [[ -d $lib_root ]]; then
    owner=$(stat -c %u:%g "$lib_root")
  fi
fi
lib_root_real=$(realpath -m "$lib_root")

under_lib_root() {
  local path
  path=$(realpath -m "$1")
  [[ $path == "$lib_root_real" || $path == "$lib_root_real"/* ]]
}

# Gives PATH (and everything in it) to the reference owner, when there is one and PATH is under
# DOKKU_LIB_ROOT. Symbolic links are given themselves, never followed.
give() {
  if [[ -n $owner ]] && under_lib_root "$1"; then chown -R -h "$owner" "$1"; fi
}

# mkdir -p that gives each directory it creates, not only the last one.
make_dirs() {
  local dir=$1 missing=()
  while [[ ! -d $dir ]]; do
    missing=("$dir" "${missing[@]+"${missing[@]}"}")
    dir=$(dirname "$dir")
  done
  for dir in "${missing[@]+"${missing[@]}"}"; do
    mkdir "$dir" 2>/dev/null || [[ -d $dir ]] || fail "cannot create $dir"
    give "$dir"
  done
}

# --- Uninstall: the tree and the link, nothing else. ---

if [[ $mode == uninstall ]]; then
  if [[ -e $available/$name/Cargo.toml ]]; then
    fail "$available/$name is a checkout that \`dokku plugin:install\` made, not an install.sh tree: remove it with \`dokku plugin:uninstall $name\`"
  fi
  # Dokku gets every app's tasks back before the plugin goes.
  if [[ -x $available/$name/libexec/deploy-tasks ]]; then
    "$available/$name/libexec/deploy-tasks" --trigger uninstall "$name"
  fi
  if [[ -L $enabled/$name ]]; then rm -f "$enabled/$name"; fi
  rm -rf "${available:?}/$name"
  # What an install that was killed halfway left.
  shopt -s nullglob
  for leftover in "$available/.$name.new."* "$available/.$name.old."*; do rm -rf "$leftover"; done
  echo "-----> Uninstalled $name"
  echo "       Kept its settings ($lib_root/config/$name) and records ($lib_root/data/$name): remove them by hand to forget them"
  exit 0
fi

# --- Build. ---

rust_version=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$repo/Cargo.toml")
[[ -n $rust_version ]] || fail "no rust-version in $repo/Cargo.toml"
if [[ $mode == in-place ]]; then again="run \`dokku plugin:install\` again"; else again="run install.sh again"; fi
get_rust="install Rust $rust_version or later with rustup (curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh), or update it (rustup update stable)"

# Dokku fires every plugin's install trigger on each plugin:install and plugin:update, and stops
# at the first that fails: where a build is installed already, one that cannot be made now is
# said, the installed build kept (and its apps aligned, as an install does), and the trigger
# succeeds, so that the other plugins' install triggers still run.
build_failed() {
  if [[ $mode == in-place && -x $repo/libexec/deploy-tasks ]]; then
    echo " !     $*; the build installed before stays, without this checkout's changes" >&2
    "$repo/libexec/deploy-tasks" --trigger install
    exit 0
  fi
  fail "$*"
}

# Dokku runs the install trigger as root through sudo, whose PATH lacks rustup's directory.
if ! command -v cargo >/dev/null 2>&1 && [[ -x ${CARGO_HOME:-${HOME:-/root}/.cargo}/bin/cargo ]]; then
  PATH=${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH
fi
for tool in cargo rustc; do
  command -v "$tool" >/dev/null 2>&1 || build_failed "$tool not found ($name is built from source): $get_rust, then $again"
  version=$("$tool" --version 2>/dev/null | awk '{ print $2 }') || true
  [[ -n $version ]] || build_failed "'$tool --version' did not answer: $get_rust, then $again"
  if [[ $(printf '%s\n%s\n' "$version" "$rust_version" | sort -V | head -n 1) != "$rust_version" ]]; then
    build_failed "$tool $version is older than Rust $rust_version, which $name needs: $get_rust, then $again"
  fi
done
command -v cc >/dev/null 2>&1 || build_failed "no C linker (cc) for the build: install one (apt-get install build-essential), then $again"
target=$(rustc -vV | sed -n 's/^host: //p')
[[ -n $target ]] || build_failed "cannot tell the host's Rust target from 'rustc -vV'"

target_dir=${CARGO_TARGET_DIR:-$repo/target}
echo "-----> Building $name (release, static, $target)"
# Static binaries: the helper runs inside any image, busybox included. `--target` keeps the
# static flag away from build scripts and proc-macros, which it would break.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" CARGO_TARGET_DIR=$target_dir \
  cargo build --quiet --release --locked --target "$target" --manifest-path "$repo/Cargo.toml" ||
  build_failed "the build failed (above); nothing was changed"
give "$target_dir"
build=$target_dir/$target/release

# Puts the built tree, without plugin.toml, into the directory $1.
stage() {
  local dir=$1 trigger
  mkdir -p "$dir/libexec"
  for trigger in "${phase_triggers[@]}"; do
    case " ${own_binaries[*]} " in
      *" $trigger "*) install -m 0755 "$build/$trigger" "$dir/$trigger" ;;
    esac
  done
  for trigger in "${links[@]}"; do ln -s libexec/deploy-tasks "$dir/$trigger"; done
  # Task containers run it as any USER, so everyone may read and execute it.
  install -m 0755 "$build/deploy-tasks-helper" "$dir/libexec/deploy-tasks-helper"
  # The operators' commands: `commands` and `subcommands/*` are scripts that exec this binary.
  install -m 0755 "$build/deploy-tasks" "$dir/libexec/deploy-tasks"
  # Dokku takes every path named `commands` under a plugin for an entry point (`dokku help` runs
  # `find -L $PLUGIN_PATH/enabled -name commands`): the repository holds it as `commands.bash`,
  # and nothing else of the checkout bears that name.
  cp -R "$repo/plugins/$name/." "$dir/"
  mv "$dir/commands.bash" "$dir/commands"
  # Dokku runs only executable entry points; a checkout may have lost the mode bits.
  chmod 0755 "$dir" "$dir/libexec" "$dir/dependencies" "$dir/commands" "$dir/subcommands" \
    "$dir/subcommands/"*
}

# --- In place: the built files at the root of the checkout, each renamed over the old one. ---

if [[ $mode == in-place ]]; then
  staging=$(mktemp -d "$repo/.install.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  stage "$staging"
  give "$staging"
  # Moves each staged file over its counterpart in $2, so that a trigger starting meanwhile runs
  # either the old file or the new one, never half of one.
  move_into() {
    local from=$1 to=$2 entry
    for entry in "$from"/*; do
      if [[ -d $entry ]]; then
        make_dirs "$to/${entry##*/}"
        chmod 0755 "$to/${entry##*/}"
        move_into "$entry" "$to/${entry##*/}"
      else
        mv -f "$entry" "$to/${entry##*/}"
      fi
    done
  }
  move_into "$staging" "$repo"
  # An earlier install may have put triggers this host must not have (a `pre-deploy` on a Dokku
  # that fires `pre-release-builder`).
  for trigger in "${every_trigger[@]}"; do
    case " ${phase_triggers[*]} ${links[*]} " in
      *" $trigger "*) ;;
      *) rm -f "${repo:?}/$trigger" ;;
    esac
  done
  echo "-----> Installed $name in place in $repo ($trigger_set triggers)"
  # Apps deployed before: their tasks are taken over now (or handed back, per core-tasks).
  "$repo/libexec/deploy-tasks" --trigger install
  exit 0
fi

# --- Install: the whole tree swapped in at once, then enabled. ---

make_dirs "$available"
make_dirs "$enabled"
staging=$(mktemp -d "$available/.$name.new.XXXXXX")
trap 'rm -rf "$staging"' EXIT
stage "$staging"
install -m 0644 "$repo/plugin.toml" "$staging/plugin.toml"
# The install trigger, which `dokku plugin:install` fires in every plugin (a checkout's own
# `install` is the build script, which runs it itself).
ln -s libexec/deploy-tasks "$staging/install"
give "$staging"

# Swap the whole tree in, so that a deploy running during an upgrade never sees half of it: in
# one rename that exchanges the trees, so that no moment has none; where the filesystem cannot
# exchange, in two.
if [[ -e $available/$name ]]; then
  if "$staging/libexec/deploy-tasks" --exchange "$staging" "$available/$name" 2>/dev/null; then
    rm -rf "$staging"
  else
    old=$(mktemp -d "$available/.$name.old.XXXXXX")
    mv "$available/$name" "$old/"
    mv "$staging" "$available/$name"
    rm -rf "$old"
  fi
else
  mv "$staging" "$available/$name"
fi
ln -sfn "$available/$name" "$enabled/$name"
give "$enabled/$name"
echo "-----> Installed $name into $available/$name, enabled at $enabled/$name ($trigger_set triggers)"
"$available/$name/libexec/deploy-tasks" --trigger install
