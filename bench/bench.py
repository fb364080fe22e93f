"""Measures the plugin's triggers against the Docker floor. Run through bench/run.sh."""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
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


def paired(first, second):
    """The medians of two commands run in turns, each going first in its turn of the rounds, so
    that the machine's noise (these machines are shared) falls on both alike."""
    run(first, stdout=subprocess.DEVNULL)
    run(second, stdout=subprocess.DEVNULL)
    times = ([], [])
    for round_number in range(ROUNDS):
        order = [0, 1] if round_number % 2 == 0 else [1, 0]
        for which in order:
            times[which].append(run((first, second)[which], stdout=subprocess.DEVNULL)[0])
    return statistics.median(times[0]), statistics.median(times[1])


def paired_predeploy(name, image, exact=False):
    """The no-op predeploy of app `name` (which commits) and its floor on `image`, run alternately
    so that the machine's noise falls on both alike; the medians of each, and with `exact` the
    median of [`exact_engine_once`] run in the same alternation (else None)."""
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
    if exact:
        exact_engine_once(image)
    plugin, floor, engine_only = [], [], []
    measures = [
        (plugin, lambda: run(trigger, stdout=subprocess.DEVNULL)[0]),
        (floor, floor_once),
    ]
    if exact:
        measures.append((engine_only, lambda: exact_engine_once(image)))
    for round_number in range(ROUNDS):
        # Each in turn goes first: what one leaves the engine doing (removals) falls on each
        # of the others alike.
        shift = round_number % len(measures)
        for times, measure in measures[shift:] + measures[:shift]:
            times.append(measure())
    for image in committed:
        subprocess.run([DOCKER, "rmi", image], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exact_median = statistics.median(engine_only) if exact else None
    return statistics.median(plugin), statistics.median(floor), exact_median


class EngineConnection(http.client.HTTPConnection):
    """HTTP over the local engine's socket."""

    def __init__(self):
        super().__init__("docker")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect("/var/run/docker.sock")


def engine(method, path, body=None):
    """One Engine API call; the answer's body (JSON decoded when it is)."""
    connection = EngineConnection()
    headers = {}
    if body is not None:
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    if answer.status >= 300:
        raise SystemExit(f"{method} {path}: {answer.status} {data!r}")
    try:
        return json.loads(data)
    except ValueError:
        return data


def held_build(dockerfile, tag):
    """A classic build whose context (the Dockerfile alone) is sent but for its two closing tar
    blocks, as the plugin sends it; returns the socket and the held bytes."""
    # Written by hand: tarfile pads an archive to 10 KiB, which would end it before the held
    # bytes.
    content = dockerfile.encode()
    info = tarfile.TarInfo("Dockerfile")
    info.size = len(content)
    padding = bytes(-len(content) % 512)
    held = bytes(1024)
    archive = info.tobuf(format=tarfile.USTAR_FORMAT) + content + padding + held
    sock = socket.socket(socket.AF_UNIX)
    sock.connect("/var/run/docker.sock")
    head = (
        f"POST /build?q=1&forcerm=1&t={tag} HTTP/1.1\r\nHost: docker\r\n"
        f"Content-Type: application/x-tar\r\nContent-Length: {len(archive)}\r\n"
        "Connection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + archive[:-1024])
    return sock, held


def exact_engine_once(image):
    """The engine's own calls for what the plugin makes of a no-op predeploy on an image with
    neither ENTRYPOINT nor CMD, with nothing of the plugin: the image's config, a container of it,
    its commit with that config, the build that writes both back null (started before the
    commit, as the plugin does), the tag and the removals. Returns the seconds they took."""
    started = time.perf_counter()
    config = engine("GET", f"/images/{image}/json")["Config"]
    container = engine("POST", "/containers/create", {"Image": image, "Cmd": ["true"]})["Id"]
    engine("POST", f"/containers/{container}/start")
    engine("POST", f"/containers/{container}/wait")
    build, held = held_build("FROM bench/exact:committed\nENTRYPOINT []\n", "bench/exact:cleared")
    engine("POST", f"/commit?container={container}&repo=bench/exact&tag=committed", config)
    build.sendall(held)
    answer = b""
    while chunk := build.recv(65536):
        answer += chunk
    build.close()
    if b"sha256:" not in answer:
        raise SystemExit(f"the exact floor's build failed: {answer!r}")
    engine("DELETE", f"/containers/{container}?force=1")
    engine("POST", "/images/bench/exact:cleared/tag?repo=bench/exact&tag=latest")
    engine("DELETE", "/images/bench/exact:cleared")
    engine("DELETE", "/images/bench/exact:committed")
    elapsed = time.perf_counter() - started
    engine("DELETE", "/images/bench/exact:latest")
    return elapsed


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
        predeploy, commit_floor, _ = paired_predeploy("bench-predeploy", with_cmd)
        predeploy_no_cmd, commit_floor_no_cmd, exact_no_cmd = paired_predeploy(
            "bench-predeploy-no-cmd", BASE, exact=True
        )

        floor, release = paired(
            [DOCKER, "run", "--rm", BASE, "true"],
            [os.path.join(TRIGGERS, "post-release"), "bench-release"],
        )
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
        print(f"no-op release through post-release: {release * 1000:.0f} ms = {release / floor:.2f}x the floor, paired (target <= 1.25x)")
        print(f"floor: docker run + docker commit + docker rm of an image with a CMD doing true: {commit_floor * 1000:.0f} ms")
        print(f"no-op predeploy through pre-deploy (committed), that image: {predeploy * 1000:.0f} ms = {predeploy / commit_floor:.2f}x that floor, paired (target <= 1.1x)")
        print(f"  the same on {BASE}, which has neither ENTRYPOINT nor CMD (the CMD-clearing build too): {predeploy_no_cmd * 1000:.0f} ms = {predeploy_no_cmd / commit_floor_no_cmd:.2f}x its floor ({commit_floor_no_cmd * 1000:.0f} ms)")
        print(f"  the engine's own calls for that image's exact result, nothing of the plugin: {exact_no_cmd * 1000:.0f} ms = {exact_no_cmd / commit_floor_no_cmd:.2f}x that floor; the trigger is {predeploy_no_cmd / exact_no_cmd:.2f}x them")
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
