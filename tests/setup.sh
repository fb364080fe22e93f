#!/usr/bin/env bash
# Prepares a Debian machine (as root) for the integration tests and the demo:
#   * installs docker.io, busybox-static, bash-static, git and podman when missing,
#   * starts dockerd (no systemd; --bridge=none --iptables=false) when `docker info` fails,
#   * builds the offline base images deploy-tasks-test/busybox:latest and
#     deploy-tasks-test/bash:latest from Debian packages with `docker import`,
#   * gives Podman (tests/podman.rs) a configuration and a store of the tests' own under
#     /var/lib/deploy-tasks-test/podman (CONTAINERS_CONF and CONTAINERS_STORAGE_CONF point at its
#     files; the host's own Podman configuration and store are not touched) and imports
#     deploy-tasks-test/busybox:latest there too. When Podman cannot run a container here, it
#     says why, writes the reason to /var/lib/deploy-tasks-test/podman/unusable (tests/podman.rs
#     then skips, printing it) and goes on.
# Idempotent: a second run only checks and returns quickly.
#
# Usage: tests/setup.sh [--rebuild]
#   --rebuild   rebuild the base images even when they exist.
# Env: DOCKER_BIN (default /usr/bin/docker when it exists, else docker).
# Exit: 0 when everything is ready (Podman perhaps unusable, see above), 1 on failure, 2 on a
# usage error.
set -euo pipefail

REBUILD=0
for arg in "$@"; do
    case "$arg" in
        --rebuild) REBUILD=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup: unknown argument: $arg (usage: tests/setup.sh [--rebuild])" >&2; exit 2 ;;
    esac
done

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    die "must run as root"
fi

# Bumped whenever the base image recipe changes, so that old images get rebuilt.
RECIPE_VERSION=1
BUSYBOX_IMAGE=deploy-tasks-test/busybox:latest
BASH_IMAGE=deploy-tasks-test/bash:latest
DOCKERD_LOG=/tmp/deploy-tasks-dockerd.log

TMP_DIRS=()
cleanup() {
    local d
    for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do
        [ -n "$d" ] && rm -rf -- "$d"
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_tmp_dir() {
    local d
    d=$(mktemp -d /tmp/deploy-tasks-setup.XXXXXX)
    # apt-get download runs as the _apt user when it can: let it write here.
    chmod 755 "$d"
    TMP_DIRS+=("$d")
    NEW_TMP_DIR=$d
}

# ---------------------------------------------------------------------------
# 1. packages
# ---------------------------------------------------------------------------
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

APT_UPDATED=0
apt_update() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
}

need_install=0
[ -x /usr/bin/docker ] || need_install=1
[ -x /usr/sbin/dockerd ] || command -v dockerd >/dev/null 2>&1 || need_install=1
pkg_installed busybox-static || need_install=1
pkg_installed bash-static || need_install=1
command -v git >/dev/null 2>&1 || need_install=1
command -v podman >/dev/null 2>&1 || need_install=1
if [ "$need_install" -eq 1 ]; then
    apt_update
    say "installing docker.io busybox-static bash-static git podman"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io busybox-static bash-static git podman
else
    say "packages present"
fi

if [ -z "${DOCKER_BIN:-}" ]; then
    if [ -x /usr/bin/docker ]; then DOCKER_BIN=/usr/bin/docker; else DOCKER_BIN=docker; fi
fi
export DOCKER_BIN
export DOCKER_BUILDKIT=0

# ---------------------------------------------------------------------------
# 2. dockerd
# ---------------------------------------------------------------------------
docker_ok() {
    timeout 20 "$DOCKER_BIN" info >/dev/null 2>&1
}

if docker_ok; then
    say "docker daemon answers"
else
    DOCKERD=$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)
    [ -x "$DOCKERD" ] || die "dockerd not found"
    started=0
    if [ -f /var/run/docker.pid ]; then
        pid=$(cat /var/run/docker.pid 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            say "dockerd (pid $pid) is running but not answering yet; waiting"
            started=1
        else
            say "removing stale /var/run/docker.pid"
            rm -f /var/run/docker.pid
        fi
    fi
    if [ "$started" -eq 0 ]; then
        say "starting dockerd (log: $DOCKERD_LOG)"
        nohup setsid "$DOCKERD" --bridge=none --iptables=false \
            </dev/null >>"$DOCKERD_LOG" 2>&1 &
    fi
    ok=0
    for _ in $(seq 1 60); do
        if docker_ok; then ok=1; break; fi
        sleep 1
    done
    if [ "$ok" -ne 1 ]; then
        echo "setup: ERROR: docker daemon did not answer within 60 s; last lines of $DOCKERD_LOG:" >&2
        tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
        exit 1
    fi
    say "docker daemon answers"
fi

# ---------------------------------------------------------------------------
# 3. base images
# ---------------------------------------------------------------------------
# image_current CLI IMAGE: whether IMAGE in CLI's store was built by this recipe.
image_current() {
    local label
    label=$("$1" image inspect \
        -f '{{ index .Config.Labels "deploy-tasks-test.recipe" }}' "$2" 2>/dev/null) || return 1
    [ "$label" = "$RECIPE_VERSION" ]
}

# fetch_pkg PACKAGE DEST_DIR: extracts PACKAGE's .deb into DEST_DIR.
fetch_pkg() {
    local pkg=$1 dest=$2 deb
    new_tmp_dir
    local dl=$NEW_TMP_DIR
    if ! (cd "$dl" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
        apt_update
        (cd "$dl" && apt-get download -qq "$pkg" >/dev/null) \
            || die "apt-get download $pkg failed"
    fi
    deb=$(find "$dl" -maxdepth 1 -name '*.deb' | head -n 1)
    [ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
    dpkg -x "$deb" "$dest"
}

# build_rootfs ROOT WITH_BASH
build_rootfs() {
    local root=$1 with_bash=$2 name
    new_tmp_dir
    local x=$NEW_TMP_DIR
    fetch_pkg busybox-static "$x/busybox"
    [ -x "$x/busybox/bin/busybox" ] || die "busybox-static has no /bin/busybox"

    mkdir -p "$root"/{bin,etc,usr/bin,tmp,app,root,var/tmp,proc,sys,dev}
    install -m 0755 "$x/busybox/bin/busybox" "$root/bin/busybox"
    while IFS= read -r name; do
        [ -n "$name" ] || continue
        [ "$name" = busybox ] && continue
        [ -e "$root/bin/$name" ] || ln -s busybox "$root/bin/$name"
    done < <("$root/bin/busybox" --list)
    [ -e "$root/bin/env" ] || die "busybox has no env applet"
    ln -sfn /bin/env "$root/usr/bin/env"

    if [ "$with_bash" -eq 1 ]; then
        fetch_pkg bash-static "$x/bash"
        local src="$x/bash/bin/bash-static"
        [ -x "$src" ] || src="$x/bash/usr/bin/bash-static"
        [ -x "$src" ] || die "bash-static has no bash-static binary"
        rm -f "$root/bin/bash"
        install -m 0755 "$src" "$root/bin/bash"
    fi

    chmod 1777 "$root/tmp" "$root/var/tmp"
    chmod 0755 "$root/app"
    chmod 0700 "$root/root"
    chown 1000:1000 "$root/app"
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
    chmod 0644 "$root/etc/passwd" "$root/etc/group"
}

# import_image CLI IMAGE WITH_BASH: imports the base image into CLI's store.
import_image() {
    local cli=$1 image=$2 with_bash=$3
    new_tmp_dir
    local root=$NEW_TMP_DIR/root
    build_rootfs "$root" "$with_bash"
    tar --numeric-owner -C "$root" -c . \
        | "$cli" import \
            --change "LABEL deploy-tasks-test.recipe=$RECIPE_VERSION" \
            - "$image" >/dev/null
}

build_image() {
    local image=$1 with_bash=$2
    say "building $image"
    import_image "$DOCKER_BIN" "$image" "$with_bash"
    "$DOCKER_BIN" run --rm --network=none "$image" /bin/sh -c true \
        || die "$image: /bin/sh does not run"
    if [ "$with_bash" -eq 1 ]; then
        "$DOCKER_BIN" run --rm --network=none "$image" /bin/bash -c true \
            || die "$image: /bin/bash does not run"
    fi
    say "built $image"
}

for spec in "$BUSYBOX_IMAGE:0" "$BASH_IMAGE:1"; do
    image=${spec%:*}
    with_bash=${spec##*:}
    if [ "$REBUILD" -eq 0 ] && image_current "$DOCKER_BIN" "$image"; then
        say "image $image present"
    else
        build_image "$image" "$with_bash"
    fi
done

# ---------------------------------------------------------------------------
# 4. podman
# ---------------------------------------------------------------------------
# Rootful Podman with everything of its own under PODMAN_DIR, so that neither the host's Podman
# nor this one sees the other's containers or images:
#   * storage: vfs, which works on any filesystem, also in a container whose root is already an
#     overlay (the base image is 2 MB: copying layers costs nothing);
#   * no network at all (netns "none"): no bridge, no CNI plugin, no iptables, as for dockerd;
#   * cgroupfs (there may be no systemd), events in a file (no journald), runc (docker.io's);
#   * ulimits: rootful Podman sets nofile and nproc to 1048576 in every container, and a machine
#     whose hard limits are lower and that lacks CAP_SYS_RESOURCE (a container, or this VM)
#     cannot raise them: runc fails with "error setting rlimit type 7: operation not
#     permitted". This machine's hard limits are written instead (nproc at most 4096; root in
#     a container is not held to it anyway).
PODMAN_DIR=/var/lib/deploy-tasks-test/podman
PODMAN_RUN_DIR=/run/deploy-tasks-test/podman
export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf

# hard_limit OPTION CAP: `ulimit -H OPTION`, at most CAP.
hard_limit() {
    local value
    value=$(ulimit -H "$1")
    if [ "$value" = unlimited ] || [ "$value" -gt "$2" ]; then value=$2; fi
    echo "$value"
}

write_podman_config() {
    local nofile nproc
    nofile=$(hard_limit -n 1048576)
    nproc=$(hard_limit -u 4096)
    mkdir -p "$PODMAN_DIR" "$PODMAN_RUN_DIR"
    cat >"$CONTAINERS_CONF.new" <<END
# Written by tests/setup.sh for tests/podman.rs (CONTAINERS_CONF).
[containers]
netns = "none"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$PODMAN_RUN_DIR/libpod"
END
    cat >"$CONTAINERS_STORAGE_CONF.new" <<END
# Written by tests/setup.sh for tests/podman.rs (CONTAINERS_STORAGE_CONF).
[storage]
driver = "vfs"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_RUN_DIR/storage"
END
    mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
    mv "$CONTAINERS_STORAGE_CONF.new" "$CONTAINERS_STORAGE_CONF"
}

# podman_unusable WHAT OUTPUT: records why Podman cannot be tested here; setup goes on.
podman_unusable() {
    printf '%s: %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')" >"$PODMAN_DIR/unusable"
    echo "setup: WARNING: Podman is unusable here; tests/podman.rs will skip: $(cat "$PODMAN_DIR/unusable")" >&2
}

setup_podman() {
    local out
    write_podman_config
    rm -f "$PODMAN_DIR/unusable"
    if ! out=$(timeout 60 podman info 2>&1 >/dev/null); then
        podman_unusable "podman info failed" "$out"
        return
    fi
    if [ "$REBUILD" -eq 0 ] && image_current podman "$BUSYBOX_IMAGE"; then
        say "podman: image $BUSYBOX_IMAGE present"
    else
        say "podman: building $BUSYBOX_IMAGE"
        if ! out=$(import_image podman "$BUSYBOX_IMAGE" 0 2>&1); then
            podman_unusable "podman import failed" "$out"
            return
        fi
    fi
    if ! out=$(timeout 60 podman run --rm "$BUSYBOX_IMAGE" /bin/sh -c true 2>&1); then
        podman_unusable "podman run failed" "$out"
        return
    fi
    say "podman ready (CONTAINERS_CONF=$CONTAINERS_CONF)"
}
setup_podman

say "ready (DOCKER_BIN=$DOCKER_BIN)"
