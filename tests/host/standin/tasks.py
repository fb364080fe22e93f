"""The app-json plugin's deployment tasks (plugins/app-json/functions.go executeScript): the
task runs for real in a container of the app's image, and a predeploy task is committed."""

import json
import os
import shlex
import sys

from . import app_json, config, extract, host

# Options executeScript drops from the docker-args-deploy output: a task publishes no port,
# restarts never and has no resource limits.
FILTERED = [
    "--cpus", "--gpus", "--memory", "--memory-reservation", "--memory-swap",
    "--publish", "--publish-all", "--restart", "-p", "-P",
]
TINI = {
    f'ENTRYPOINT ["{path}","--"]'
    for path in ("/tini", "/bin/tini", "/usr/bin/tini", "/usr/local/bin/tini")
}


def current_app_json(app):
    """GetAppJSON: this deploy's copy, or {} when the app has none."""
    path = extract.current(host.app_data_dir("app-json", app), "app.json")
    return app_json.read(path) if path else {}


def phase_command(app, phase):
    """getPhaseScript, or getReleaseCommand (`procfile-get-command APP release 5000`), whose
    stderr common.CallPlugnTrigger captures without showing it."""
    if phase == "release":
        command = host.trigger(
            "procfile-get-command", app, "release", "5000", capture=True, check=False, quiet=True
        )
        return command.strip(), "Procfile"
    try:
        return app_json.phase_script(current_app_json(app), phase), "app.json"
    except app_json.Invalid as error:
        host.exclaim(str(error))
        return "", "app.json"


def execute(app, image, image_tag, phase):
    host.info1(f"Checking for {phase} task")
    command, source = phase_command(app, phase)
    if not command:
        host.verbose(f"No {phase} task found, skipping")
        return
    if phase == "predeploy":
        host.verbose(f"Executing {phase} task from {source}: {command}")
    else:
        host.verbose(f"Executing {phase} task from {source} in ephemeral container: {command}")

    cnb = _is_cnb(image)
    herokuish = cnb or _is_herokuish(image, app)
    entrypoint, cmd = "", ""
    if not herokuish:
        entrypoint = _image_instruction(image, "Entrypoint", "ENTRYPOINT")
        cmd = _image_instruction(image, "Cmd", "CMD")
    script = _script(command, host.app_shell(app), herokuish, cnb, entrypoint)

    args = os.environ["DOKKU_GLOBAL_RUN_ARGS"].split(" ")
    args.append(f"--label=com.dokku.app-name={app}")
    source_type = "herokuish" if herokuish else "dockerfile"
    args += _filtered(
        host.stdin_empty_words("docker-args-deploy", app, image_tag)
        + host.stdin_empty_words("docker-args-process-deploy", app, source_type, image_tag)
    )
    args.append(f"--label=dokku_phase_script={phase}")
    if herokuish and not cnb:
        args += ["-v", f"cache-{app}:/tmp/cache"]
    if os.environ.get("DOKKU_TRACE"):
        args += ["--env", "DOKKU_TRACE=" + os.environ["DOKKU_TRACE"]]
    if cnb:
        args.append("--entrypoint=/cnb/lifecycle/launcher")
    # The stand-in's one addition: its hosts have no network.
    args.append("--network=none")
    # The docker CLI takes the values of docker-args-deploy's `--env=KEY` from its environment.
    env = dict(os.environ)
    env.update(json.loads(host.trigger("config-export", app, "false", "true", "json", capture=True) or "{}"))
    created = host.docker("container", "create", *args, image, *script, env=env, check=False)
    if created.returncode != 0:
        raise host.Failure(f"Failed to create {phase} execution container: {created.stdout.strip()}")
    container = created.stdout.strip()
    try:
        host.trigger("post-container-create", "app", container, app, phase)
        succeeded = _start_and_wait(container)
        host.info2_quiet(f"Start of {app} {phase} task ({container[0:9]}) output")
        _print_logs(container)
        host.info2_quiet(f"End of {app} {phase} task ({container[0:9]}) output")
        if not succeeded:
            raise host.Failure(f"Execution of {phase} task failed: {command}")
        if phase == "predeploy":
            keep = not herokuish or cnb
            _commit(app, container, image, entrypoint if keep else "", cmd if keep else "")
    finally:
        host.docker("container", "rm", "--force", container, check=False, quiet=True)


def _is_cnb(image):
    """common.IsImageCnbBased: the image has the label `io.buildpacks.stack.id`."""
    labels = json.loads(host.docker("image", "inspect", "--format", "{{json .Config.Labels}}", image))
    return "io.buildpacks.stack.id" in (labels or {})


def _is_herokuish(image, app):
    """common.IsImageHerokuishBased past its CNB check: the image's ENV holds `USER=` the app's
    own DOKKU_APP_USER (`config-get APP`), else `USER=herokuishuser`."""
    user = config.read(config.app_file(app)).get("DOKKU_APP_USER") or "herokuishuser"
    env = json.loads(host.docker("image", "inspect", "--format", "{{json .Config.Env}}", image))
    return f"USER={user}" in (env or [])


def _script(command, shell, herokuish, cnb, entrypoint):
    """constructScript."""
    if entrypoint and entrypoint not in TINI:
        return shlex.split(command.strip())
    script = ["set -e;", "set -o pipefail || true;"]
    if os.environ.get("DOKKU_TRACE") == "1":
        script.append("set -x;")
    if herokuish and not cnb:
        script += [
            "if [[ -d '/app' ]]; then", "  export HOME=/app;", "  cd $HOME;", "fi;",
            "if [[ -d '/app/.profile.d' ]]; then",
            "  for file in /app/.profile.d/*; do source $file; done;", "fi;",
        ]
    if command.startswith("/"):
        binary = command.split(" ")[0]
        script += [f'if [[ ! -x "{binary}" ]]; then', "  echo specified binary is not executable;", "  exit 1;", "fi;"]
    script.append(f"{command} || exit 1;")
    return [shell, "-c", " ".join(script)]


def _filtered(words):
    for option in FILTERED:
        kept, skip = [], False
        for word in words:
            if skip:
                skip = False
            elif word.startswith(option + "="):
                pass
            elif word == option:
                skip = True
            else:
                kept.append(word)
        words = kept
    return words


def _image_instruction(image, field, instruction):
    """getEntrypointFromImage, getCommandFromImage: `ENTRYPOINT cmd` for the shell form,
    `ENTRYPOINT ["a","b"]` (Go's JSON) for the exec form, "" when unset."""
    raw = host.docker("image", "inspect", "--format", "{{json .Config." + field + "}}", image)
    words = json.loads(raw)
    if not words:
        return ""
    if len(words) == 3 and words[0] == "/bin/sh" and words[1] == "-c":
        return f"{instruction} {words[2]}"
    return f"{instruction} {json.dumps(words, separators=(',', ':'), ensure_ascii=False)}"


def _start_and_wait(container):
    if host.docker("container", "start", container, check=False, quiet=True).returncode != 0:
        return False
    waited = host.docker("container", "wait", container, check=False)
    return waited.returncode == 0 and waited.stdout.strip() == "0"


def _print_logs(container):
    """LogVerboseQuietContainerLogs: each line of the container's output behind seven spaces."""
    logs = host.docker("container", "logs", container, check=False, quiet=True)
    for line in (logs.stdout or "").splitlines():
        host.verbose_quiet(line)
    for line in (logs.stderr or "").splitlines():
        if not os.environ.get("DOKKU_QUIET_OUTPUT"):
            print(f"       {line}", file=sys.stderr, flush=True)


def _commit(app, container, image, entrypoint, cmd):
    args = ["container", "commit"]
    if entrypoint:
        args += ["--change", entrypoint]
    if cmd:
        args += ["--change", cmd]
    args += [
        "--change", "LABEL org.label-schema.schema-version=1.0",
        "--change", "LABEL org.label-schema.vendor=dokku",
        "--change", f"LABEL com.dokku.app-name={app}",
        "--change", "LABEL com.dokku.predeploy-phase=true",
        container, image,
    ]
    if host.docker(*args, check=False, quiet=True).returncode != 0:
        raise host.Failure("Committing of 'predeploy' to image failed: " + image)
