"""The stand-in host's environment, log format, `plugn trigger`, properties and Docker CLI.

Each fact cites the Dokku 0.38 source it models (dokku/dokku unless noted).
"""

import os
import shlex
import subprocess
import sys

HOST_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
CORE_PLUGINS = os.path.join(HOST_DIR, "core-plugins")


class Failure(Exception):
    """A step failed: `message` goes to stderr as ` !     message`, `code` is the exit status."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.message = message
        self.code = code


# --- environment ------------------------------------------------------------------------------


def setup_environment():
    """Exports what the `dokku` script exports before it runs a command (`dokku`, top of file).

    DOKKU_PID is inherited when set, as `DOKKU_PID="${DOKKU_PID:=$$}"` does, so every step of
    one `dokku` invocation (and the `dokku` calls it makes) shares it.
    """
    env = os.environ
    env.setdefault("DOKKU_ROOT", os.path.expanduser("~dokku"))
    env["DOKKU_HOST_ROOT"] = env.get("DOKKU_HOST_ROOT") or env["DOKKU_ROOT"]
    env["DOCKER_BIN"] = env.get("DOCKER_BIN") or "docker"
    # `dokku` reads DOKKU_LIB_PATH; the tests give DOKKU_LIB_ROOT, which the stand-in honours.
    env["DOKKU_LIB_ROOT"] = env.get("DOKKU_LIB_PATH") or env.get("DOKKU_LIB_ROOT") or "/var/lib/dokku"
    if env.get("PLUGIN_ENABLED_PATH") and not env.get("PLUGIN_PATH"):
        env["PLUGIN_PATH"] = os.path.dirname(env["PLUGIN_ENABLED_PATH"].rstrip("/"))
    env["PLUGIN_PATH"] = env.get("PLUGIN_PATH") or os.path.join(env["DOKKU_LIB_ROOT"], "plugins")
    env["PLUGIN_AVAILABLE_PATH"] = env.get("PLUGIN_AVAILABLE_PATH") or os.path.join(
        env["PLUGIN_PATH"], "available"
    )
    env["PLUGIN_ENABLED_PATH"] = env.get("PLUGIN_ENABLED_PATH") or os.path.join(
        env["PLUGIN_PATH"], "enabled"
    )
    # Dokku's core plugins live in $DOKKU_LIB_ROOT/core-plugins/available; the stand-in's models
    # live in tests/host/core-plugins.
    env["PLUGIN_CORE_PATH"] = env.get("PLUGIN_CORE_PATH") or CORE_PLUGINS
    env["PLUGIN_CORE_AVAILABLE_PATH"] = env.get("PLUGIN_CORE_AVAILABLE_PATH") or CORE_PLUGINS
    env["PLUGIN_CORE_ENABLED_PATH"] = env.get("PLUGIN_CORE_ENABLED_PATH") or CORE_PLUGINS
    # Dokku's plugins call `plugn trigger`; the stand-in's plugn comes first on PATH.
    env["PATH"] = os.path.join(HOST_DIR, "bin") + os.pathsep + env.get("PATH", "")
    env.setdefault("DOKKU_SYSTEM_GROUP", "dokku")
    env.setdefault("DOKKU_SYSTEM_USER", "dokku")
    env["DOKKU_API_VERSION"] = "1"
    env["DOKKU_NOT_IMPLEMENTED_EXIT"] = "10"
    env["DOKKU_VALID_EXIT"] = "0"
    env["DOKKU_PID"] = env.get("DOKKU_PID") or str(os.getpid())
    env["DOKKU_CONTAINER_LABEL"] = "dokku"
    labels = (
        "--label=org.label-schema.schema-version=1.0 --label=org.label-schema.vendor=dokku "
        "--label=dokku"
    )
    env["DOKKU_GLOBAL_BUILD_ARGS"] = labels
    env["DOKKU_GLOBAL_RUN_ARGS"] = labels


def lib_root():
    return os.environ["DOKKU_LIB_ROOT"]


def dokku_root():
    return os.environ["DOKKU_ROOT"]


def pid():
    return os.environ["DOKKU_PID"]


def docker_bin():
    return os.environ["DOCKER_BIN"]


def app_data_dir(plugin, app):
    """common.GetAppDataDirectory: $DOKKU_LIB_ROOT/data/PLUGIN/APP."""
    return os.path.join(lib_root(), "data", plugin, app)


# --- log format (plugins/common/log.go) -------------------------------------------------------


def _quiet():
    return bool(os.environ.get("DOKKU_QUIET_OUTPUT"))


def info1(text):
    """LogInfo1: `-----> ` on stdout."""
    print(f"-----> {text}", flush=True)


def info1_quiet(text):
    if not _quiet():
        info1(text)


def info2(text):
    """LogInfo2: `=====> ` on stdout."""
    print(f"=====> {text}", flush=True)


def info2_quiet(text):
    if not _quiet():
        info2(text)


def verbose(text):
    """LogVerbose: seven spaces on stdout."""
    print(f"       {text}", flush=True)


def verbose_quiet(text):
    if not _quiet():
        verbose(text)


def warn(text):
    """LogWarn: ` !     ` on stderr."""
    print(f" !     {text}", file=sys.stderr, flush=True)


def exclaim(text):
    """LogExclaim: ` !     ` on stdout."""
    print(f" !     {text}", flush=True)


# --- plugn (dokku/plugn bashenv/plugn.bash `trigger`) ----------------------------------------


def enabled_plugins():
    """`$PLUGIN_PATH/enabled/*` in glob order (C collation, as the stand-in runs with LC_ALL=C)."""
    enabled = os.path.join(os.environ["PLUGIN_PATH"], "enabled")
    try:
        names = sorted(name for name in os.listdir(enabled) if not name.startswith("."))
    except FileNotFoundError:
        return []
    return [(name, os.path.join(enabled, name)) for name in names]


def trigger_exists(name):
    """common.PlugnTriggerExists: some enabled plugin but 20_events has the file."""
    return any(
        plugin != "20_events" and os.path.isfile(os.path.join(path, name))
        for plugin, path in enabled_plugins()
    )


def trigger(name, *args, capture=False, stdin=None, check=True, quiet=False):
    """`plugn trigger NAME ARGS...`: each enabled plugin's executable NAME file in glob order.

    plugn runs under `set -eo pipefail`, so the first hook that fails stops the trigger with its
    status. A non-executable hook is skipped with plugn's message on stderr. With `capture`, the
    hooks' stdout is returned (stderr still goes to ours), as `$(plugn trigger ...)` gives;
    `quiet` drops their stderr, as `2>/dev/null` does.
    """
    log_event(name, args)
    output = []
    for plugin, path in enabled_plugins():
        hook = os.path.join(path, name)
        if not os.path.isfile(hook):
            continue
        if not os.access(hook, os.X_OK):
            print(
                f"Trigger '{name}' is not executable, skipping plugin ({plugin})",
                file=sys.stderr,
                flush=True,
            )
            continue
        sys.stdout.flush()
        result = subprocess.run(
            [hook, *args],
            input=(stdin if stdin is not None else None),
            stdin=(subprocess.DEVNULL if stdin is None and capture else None),
            stdout=(subprocess.PIPE if capture else None),
            stderr=(subprocess.DEVNULL if quiet else None),
            text=True,
        )
        if capture:
            output.append(result.stdout)
        if result.returncode != 0:
            if check:
                raise Failure(None, result.returncode)
            return "".join(output) if capture else result.returncode
    return "".join(output) if capture else 0


def log_event(name, args):
    """Appends `TRIGGER ARGS` (shell-quoted) to $DOKKU_STANDIN_TRIGGER_LOG when it is set: the
    stand-in's own record for tests that check which triggers fired, in order."""
    log = os.environ.get("DOKKU_STANDIN_TRIGGER_LOG")
    if not log:
        return
    with open(log, "a", encoding="utf-8") as out:
        out.write(" ".join([name, *(shlex.quote(arg) for arg in args)]) + "\n")


# --- properties (plugins/common/properties.go) -----------------------------------------------


def property_path(plugin, app, prop):
    """getPropertyPath: $DOKKU_LIB_ROOT/config/PLUGIN/APP/PROPERTY."""
    return os.path.join(lib_root(), "config", plugin, app, prop)


def property_get(plugin, app, prop, default=""):
    try:
        with open(property_path(plugin, app, prop), encoding="utf-8") as file:
            value = file.read()
    except FileNotFoundError:
        return default
    return value if value else default


def property_write(plugin, app, prop, value):
    """PropertyWrite: the value without a newline, mode 0600."""
    path = property_path(plugin, app, prop)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(value)
    os.chmod(path, 0o600)


def property_delete(plugin, app, prop):
    try:
        os.remove(property_path(plugin, app, prop))
    except FileNotFoundError:
        pass


def is_deployed(app):
    """common.IsDeployed: the `common` property `deployed`."""
    return property_get("common", app, "deployed") == "true"


def app_shell(app):
    """common.GetDokkuAppShell: scheduler property `shell`, app then global, else /bin/bash."""
    return property_get("scheduler", app, "shell") or property_get(
        "scheduler", "--global", "shell", "/bin/bash"
    )


# --- docker -------------------------------------------------------------------------------------


def docker(*args, capture=True, env=None, check=True, quiet=False):
    """Runs the Docker CLI; returns its stripped stdout (or the CompletedProcess unchecked)."""
    sys.stdout.flush()
    result = subprocess.run(
        [docker_bin(), *args],
        stdin=subprocess.DEVNULL,
        stdout=(subprocess.PIPE if capture else None),
        stderr=(subprocess.PIPE if quiet else None),
        text=True,
        env=env,
    )
    if not check:
        return result
    if result.returncode != 0:
        raise Failure(f"docker {args[0]} failed (exit {result.returncode})", result.returncode)
    return (result.stdout or "").strip()


def image_name(app, tag="latest"):
    """get_app_image_name: dokku/APP:TAG."""
    return f"dokku/{app}:{tag or 'latest'}"


def deploying_image_name(app, tag):
    """get_deploying_app_image_name (common/functions): the tag `deployed-app-image-tag`
    answers, else TAG, else latest (get_running_image_tag); then `deployed-app-repository`
    and `deployed-app-image-repo` (else dokku/APP): REMOTE + REPO:TAG. Dokku's registry plugin
    answers them from its properties; no plugin of the stand-in's does."""
    tag = trigger("deployed-app-image-tag", app, capture=True).strip() or tag or "latest"
    remote = trigger("deployed-app-repository", app, capture=True).strip()
    repo = trigger("deployed-app-image-repo", app, capture=True).strip() or f"dokku/{app}"
    return f"{remote}{repo}:{tag}"


def stdin_empty_words(name, *args):
    """`$(: | plugn trigger NAME ARGS...)` split into words, as fn-docker-args-split does."""
    return shlex.split(trigger(name, *args, capture=True, stdin=""))


def main(handlers):
    """Runs one trigger of a core-plugin model: the hook's file name picks the handler, as
    Dokku's Go plugins switch on the trigger name (plugins/*/src/triggers/triggers.go)."""
    sys.dont_write_bytecode = True
    name = os.path.basename(sys.argv[0])
    handler = handlers.get(name)
    if handler is None:
        print(f" !     no model of trigger {name} in {sys.argv[0]}", file=sys.stderr)
        return 1
    try:
        handler(*sys.argv[1:])
    except Failure as failure:
        if failure.message:
            print(f" !     {failure.message}", file=sys.stderr, flush=True)
        return failure.code
    return 0
