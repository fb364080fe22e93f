"""Measures the plugin's triggers against the Docker floor. Run through bench/run.sh."""

import os
import statistics
import subprocess
import sys
import time

WORK = sys.argv[1]
ROUNDS = int(os.environ.get("ROUNDS", "15"))
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
BASE = "deploy-tasks-test/busybox:latest"
TRIGGERS = os.path.join(WORK, "plugins", "enabled", "deploy-tasks")
LIB = os.path.join(WORK, "lib")
ENV = dict(os.environ, DOKKU_ROOT=os.path.join(WORK, "home"), DOKKU_LIB_ROOT=LIB, DOCKER_BIN=DOCKER)


def run(argv, **kwargs):
    """Runs a command; returns (seconds, largest resident set of it and its children in KiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=ENV, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return elapsed, usage.ru_maxrss


def median_seconds(argv):
    run(argv, stdout=subprocess.DEVNULL)  # warm up: caches, page cache
    return statistics.median(run(argv, stdout=subprocess.DEVNULL)[0] for _ in range(ROUNDS))


def paired_predeploy(name, image):
    """The no-op predeploy of app `name` (which commits) and its floor on `image`, run alternately
    so that the machine's noise falls on both alike; the medians of each."""
    trigger = [os.path.join(TRIGGERS, "pre-deploy"), name]
    committed = []

    def floor_once():
        container = f"bench-floor-{len(committed)}"
        started = time.perf_counter()
        subprocess.run([DOCKER, "run", "--name", container, image, "true"], check=True, stdout=subprocess.DEVNULL)
        result = subprocess.run([DOCKER, "commit", container], check=True, capture_output=True, text=True)
        subprocess.run([DOCKER, "rm", container], check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        committed.append(result.stdout.strip())
        return elapsed

    run(trigger, stdout=subprocess.DEVNULL)
    floor_once()
    plugin, floor = [], []
    for _ in range(ROUNDS):
        plugin.append(run(trigger, stdout=subprocess.DEVNULL)[0])
        floor.append(floor_once())
    for image in committed:
        subprocess.run([DOCKER, "rmi", image], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return statistics.median(plugin), statistics.median(floor)


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(content)


def app(name, procfile=None, app_json=None, image=BASE):
    subprocess.run([DOCKER, "tag", image, f"dokku/{name}:latest"], check=True)
    if procfile is not None:
        write(os.path.join(LIB, "data", "ps", name, "Procfile"), procfile)
    if app_json is not None:
        write(os.path.join(LIB, "data", "app-json", name, "app.json"), app_json)


def main():
    apps = [
        "bench-release",
        "bench-none",
        "bench-none-image",
        "bench-output",
        "bench-predeploy",
        "bench-predeploy-no-cmd",
    ]
    try:
        app("bench-release", procfile="release: true\n")
        app("bench-none", procfile="web: httpd\n", app_json="{}")
        app("bench-none-image")
        size = 256 * 1024 * 1024
        # 98 characters and a newline per line; head cuts the last line short.
        app(
            "bench-output",
            # `|| true`: tasks run with pipefail, and `yes` dies of SIGPIPE once head has enough.
            procfile=f"release: {{ yes {'x' * 98} || true; }} | head -c {size}\n",
        )

        no_op = '{"scripts": {"dokku": {"predeploy": "true"}}}'
        # An app image runs something (a CMD): the commit writes it back as it was. One with
        # neither ENTRYPOINT nor CMD (the bare base) also needs the build that clears the CMD.
        with_cmd = subprocess.run(
            [DOCKER, "build", "-q", "-"],
            input=f"FROM {BASE}\nCMD [\"httpd\", \"-f\"]\n",
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        app("bench-predeploy", procfile="", app_json=no_op, image=with_cmd)
        app("bench-predeploy-no-cmd", procfile="", app_json=no_op)
        predeploy, commit_floor = paired_predeploy("bench-predeploy", with_cmd)
        predeploy_no_cmd, commit_floor_no_cmd = paired_predeploy("bench-predeploy-no-cmd", BASE)

        floor = median_seconds([DOCKER, "run", "--rm", BASE, "true"])
        release = median_seconds([os.path.join(TRIGGERS, "post-release"), "bench-release"])
        inspect = median_seconds([DOCKER, "image", "inspect", BASE])
        no_task = median_seconds([os.path.join(TRIGGERS, "post-deploy"), "bench-none", "5000", "127.0.0.1"])
        no_task_image = median_seconds(
            [os.path.join(TRIGGERS, "post-deploy"), "bench-none-image", "5000", "127.0.0.1"]
        )

        reader = subprocess.Popen(
            [os.path.join(TRIGGERS, "post-release"), "bench-output"],
            env=ENV,
            stdout=subprocess.PIPE,
        )
        x_seen = 0
        for line in reader.stdout:
            if line.startswith(b"       x"):
                x_seen += line.count(b"x")
        _, status, usage = os.wait4(reader.pid, 0)
        lines, rest = divmod(size, 99)
        x_expected = lines * 98 + min(rest, 98)
        cli_floor = run([DOCKER, "image", "inspect", BASE], stdout=subprocess.DEVNULL)[1]

        print(f"rounds per figure (median): {ROUNDS}")
        print(f"floor: docker run --rm {BASE} true: {floor * 1000:.0f} ms")
        print(f"no-op release through post-release: {release * 1000:.0f} ms = {release / floor:.2f}x the floor (target <= 1.25x)")
        print(f"floor: docker run + docker commit + docker rm of an image with a CMD doing true: {commit_floor * 1000:.0f} ms")
        print(f"no-op predeploy through pre-deploy (committed), that image: {predeploy * 1000:.0f} ms = {predeploy / commit_floor:.2f}x that floor, paired (target <= 1.1x)")
        print(f"  the same on {BASE}, which has neither ENTRYPOINT nor CMD (the CMD-clearing build too): {predeploy_no_cmd * 1000:.0f} ms = {predeploy_no_cmd / commit_floor_no_cmd:.2f}x its floor ({commit_floor_no_cmd * 1000:.0f} ms)")
        print(f"docker image inspect: {inspect * 1000:.0f} ms")
        print(f"post-deploy, no task, host copies of app.json and Procfile: {no_task * 1000:.1f} ms = {no_task / inspect:.2f}x one inspect (target <= 2x)")
        print(f"post-deploy, no task, definitions cached from the image: {no_task_image * 1000:.1f} ms = {no_task_image / inspect:.2f}x one inspect (target <= 2x)")
        print(f"256 MiB of task output: status {status}, {x_seen} of {x_expected} payload bytes passed through ({'all' if x_seen == x_expected else 'MISSING'})")
        print(f"  largest process of the trigger (docker CLI included): {usage.ru_maxrss / 1024:.1f} MiB resident (target < 32 MiB)")
        print(f"  for scale, the docker CLI alone for one `docker image inspect`: {cli_floor / 1024:.1f} MiB resident")
    finally:
        for name in apps:
            subprocess.run([DOCKER, "rmi", f"dokku/{name}:latest"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


main()
