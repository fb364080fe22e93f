"""Dokku 0.38's flows, step by step, as the stand-in runs them (see the table in tests/host/dokku).
Every trigger Dokku fires on the way is fired through `plugn trigger`, implemented or not."""

import fcntl
import os
import random
import re
import shlex
import shutil
import tempfile
import time

from . import config, host, procfile

def verify_app_name(app):
    """fn-is-valid-app-name: lowercase alphanumerics, dots and hyphens, starting alphanumeric."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", app):
        raise host.Failure(
            "App name must begin with lowercase alphanumeric character, and may only contain "
            "lowercase alphanumerics, dots, and hyphens"
        )


# --- git (plugins/git/functions) ----------------------------------------------------------------


def pushed_source(app):
    """Where the stand-in keeps the last pushed tree and revision, standing for the app
    repository's deploy branch (Dokku rebuilds from $DOKKU_ROOT/APP refs/heads/BRANCH)."""
    return os.path.join(host.lib_root(), "data", "standin-git", app)


def git_push(app, source_dir, rev):
    """A push to the deploy branch: cmd-git-hook -> git_receive_app APP NEWREV, then
    `deploy-source-set APP git-push NEWREV`."""
    verify_app_name(app)
    kept = pushed_source(app)
    if os.path.isdir(kept):
        shutil.rmtree(kept)
    shutil.copytree(source_dir, os.path.join(kept, "tree"), symlinks=True,
                    ignore=shutil.ignore_patterns(".git"))
    with open(os.path.join(kept, "rev"), "w", encoding="utf-8") as file:
        file.write(rev)
    git_receive_app(app, rev)
    host.trigger("deploy-source-set", app, "git-push", rev)


def git_receive_app(app, rev):
    """git_receive_app: git_build under the app's exclusive deploy lock."""
    with deploy_lock(app):
        git_build(app, rev)


class deploy_lock:
    """acquire_app_deploy_lock APP exclusive: flock on $DOKKU_LIB_ROOT/data/apps/APP/.deploy.lock
    holding the build ID; a held lock fails the deploy. Released (and removed) at the end."""

    def __init__(self, app):
        self.app = app
        self.path = os.path.join(host.lib_root(), "data", "apps", app, ".deploy.lock")

    def __enter__(self):
        os.environ.setdefault("DOKKU_BUILD_ID", f"pid-{host.pid()}")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.file = open(self.path, "w", encoding="utf-8")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            host.warn(f"{self.app} currently has a deploy lock in place. Exiting...")
            raise host.Failure("Run 'apps:unlock' to release the existing deploy lock")
        self.file.write(os.environ["DOKKU_BUILD_ID"] + "\n")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        return False


def git_build(app, rev):
    """git_build: with a revision, sets the rev-env-var (GIT_REV) quietly without a restart;
    without one (ps:rebuild), builds the deploy branch's revision."""
    kept = pushed_source(app)
    if rev:
        variable = host.property_get("git", app, "rev-env-var", "GIT_REV")
        if variable:
            quiet = os.environ.get("DOKKU_QUIET_OUTPUT")
            os.environ["DOKKU_QUIET_OUTPUT"] = "1"
            try:
                config_set(app, {variable: rev}, restart=False)
            finally:
                if quiet is None:
                    del os.environ["DOKKU_QUIET_OUTPUT"]
                else:
                    os.environ["DOKKU_QUIET_OUTPUT"] = quiet
        ref = rev
    else:
        try:
            with open(os.path.join(kept, "rev"), encoding="utf-8") as file:
                ref = file.read()
        except FileNotFoundError:
            branch = host.property_get("git", app, "deploy-branch", "master")
            print(f"-----> WARNING: Cannot build from '{branch}' as there are no commits stored at that branch.")
            raise host.Failure(None)
    git_build_app_repo(app, ref, os.path.join(kept, "tree"))


def git_build_app_repo(app, rev, tree):
    verify_app_name(app)
    work_dir = tempfile.mkdtemp(prefix=f"dokku-{host.pid()}-git_build_app_repo.", dir="/tmp")
    try:
        os.chmod(work_dir, 0o755)
        ensure_app(app)
        # fn-git-setup-build-dir: the revision's tree in the work directory.
        shutil.copytree(tree, work_dir, symlinks=True, dirs_exist_ok=True)
        git_trigger_build(app, work_dir, rev)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def ensure_app(app):
    """`app-exists`, else `app-maybe-create` (apps:create: $DOKKU_ROOT/APP, `post-create`)."""
    if not os.path.isdir(os.path.join(host.dokku_root(), app)):
        os.makedirs(os.path.join(host.dokku_root(), app))
        host.trigger("post-create", app)


def git_trigger_build(app, work_dir, rev):
    host.trigger("core-post-extract", app, work_dir, rev)
    host.trigger("post-extract", app, work_dir, rev)
    detected = host.trigger("builder-detect", app, work_dir, capture=True, check=False)
    builder = detected.splitlines()[0].strip() if detected.strip() else "herokuish"
    host.trigger("pre-receive-app", app, builder, work_dir, rev)
    dokku_receive(app, builder, work_dir)


# --- plugins/common/functions -------------------------------------------------------------------


def dokku_receive(app, builder, work_dir):
    host.trigger("builder-set-property", app, "detected", builder)
    dokku_build(app, builder, work_dir)
    host.trigger("release-and-deploy", app)


def dokku_build(app, builder, work_dir):
    image = host.image_name(app)
    released = host.docker(
        "image", "ls", "--filter", "label=com.dokku.image-stage=release",
        "--filter", f"label=com.dokku.app-name={app}", "--format", "{{.ID}}",
    ).split()
    try:
        host.trigger("builder-build", builder, app, work_dir)
        return
    except host.Failure:
        pass
    if released:
        host.warn(f"Retagging old image {released[0]} as {image}")
        host.docker("image", "tag", released[0], image, check=False, quiet=True)
    else:
        host.warn(f"Removing invalid image tag {image}")
        host.docker("image", "remove", "--force", "--no-prune", image, check=False, quiet=True)
    raise host.Failure("App build failed")


def release_and_deploy(app, image_tag="", source="deploy"):
    """release_and_deploy APP [TAG] [SOURCE]: builder-release, then (unless ps skip-deploy)
    scheduler-deploy; a missing image skips both."""
    image_tag = image_tag or "latest"
    image = host.image_name(app, image_tag)
    if host.docker("image", "inspect", image, check=False, quiet=True).returncode != 0:
        host.warn(f"No image found for {app}: {image}")
        return
    builder = host.docker(
        "image", "inspect", "--format", '{{ index .Config.Labels "com.dokku.builder-type" }}', image
    ) or "dockerfile"
    skip = host.property_get("ps", app, "skip-deploy") or host.property_get("ps", "--global", "skip-deploy")
    host.info1(f"Releasing {app}...")
    host.trigger("builder-release", builder, app, image_tag)
    if skip == "true":
        host.info1("Skipping deployment")
        print()
        return
    scheduler = scheduler_of(app)
    host.info1(f"Deploying {app} via the {scheduler} scheduler...")
    cmd_deploy(app, image_tag, "")
    host.info2("Application deployed:")
    for line in host.trigger("domains-urls", app, "urls", capture=True).splitlines():
        print(f"       {line}")
    print(flush=True)


def scheduler_of(app):
    """get_app_scheduler: the scheduler property `selected`, app then global, else docker-local."""
    return host.property_get("scheduler", app, "selected") or host.property_get(
        "scheduler", "--global", "selected", "docker-local"
    )


def cmd_deploy(app, image_tag, process_type):
    """cmd-deploy (`dokku deploy`, the `deploy` trigger): `scheduler-deploy SCHEDULER APP TAG
    PROCESS_TYPE` with the tag as given (empty stays empty)."""
    verify_app_name(app)
    host.trigger("scheduler-deploy", scheduler_of(app), app, image_tag, process_type)


# --- plugins/scheduler-docker-local -------------------------------------------------------------


def container_files(app):
    """$DOKKU_ROOT/APP/CONTAINER.TYPE.INDEX files, by type then index."""
    root = os.path.join(host.dokku_root(), app)
    found = []
    for name in os.listdir(root) if os.path.isdir(root) else []:
        match = re.fullmatch(r"CONTAINER\.([^.]+)\.([0-9]+)", name)
        if match:
            found.append((match.group(1), int(match.group(2)), os.path.join(root, name)))
    return sorted(found)


def read_first_line(path):
    with open(path, encoding="utf-8") as file:
        return file.readline().strip()


def scheduler_deploy(scheduler, app, image_tag, process_type):
    """scheduler-docker-local scheduler-deploy with bin/scheduler-deploy-process(-container).

    The stand-in schedules the `web` process only, WEB_SCALE (default 1, Dokku's default
    formation) containers, and has one difference: old containers are removed at once after
    post-deploy, where Dokku sends SIGTERM and stops them after wait-to-retire."""
    if scheduler != "docker-local":
        return
    image = host.deploying_image_name(app, image_tag)
    old_ids = [read_first_line(path) for kind, _, path in container_files(app)
               if not process_type or kind == process_type]
    old_ids = [cid for cid in old_ids if cid]
    procfile_exists = host.trigger("procfile-exists", app, check=False, quiet=True) == 0
    scale = int(os.environ.get("WEB_SCALE", "1"))
    if not process_type or process_type == "web":
        command = host.trigger("procfile-get-command", app, "web", "5000", capture=True, check=False, quiet=True).strip()
        if procfile_exists and not command:
            host.warn("Skipping web as it is missing from the current Procfile")
        else:
            deploy_process(app, image, image_tag, "web", scale)
    host.info1("Running post-deploy")
    # scheduler-deploy passes $port and $ipaddr, which it never sets: both are empty.
    host.trigger("core-post-deploy", app, "", "", image_tag)
    host.trigger("post-deploy", app, "", "", image_tag)
    if old_ids:
        host.info1("Shutting down old containers")
        for cid in old_ids:
            host.docker("container", "rm", "--force", cid, check=False, quiet=True)


def deploy_process(app, image, image_tag, process_type, count):
    host.info1(f"Deploying {process_type} (count={count})")
    for index in range(1, count + 1):
        deploy_container(app, image, image_tag, process_type, index)
    host.trigger("scheduler-post-deploy-process", app, process_type)
    for kind, index, path in container_files(app):
        if kind == process_type and index > count:
            cid = read_first_line(path)
            host.verbose(f"Scheduling orphaned container shutdown ({process_type}.{index})")
            host.docker("container", "rm", "--force", cid, check=False, quiet=True)
            os.remove(path)


def deploy_container(app, image, image_tag, process_type, index):
    dyno = f"{process_type}.{index}"
    args = host.stdin_empty_words("docker-args-deploy", app, image_tag, process_type, str(index))
    args += [
        f"--label=com.dokku.process-type={process_type}", f"--label=com.dokku.dyno={dyno}",
        f"--env=DYNO={dyno}", f"--name={app}.{dyno}.upcoming-{random.randint(0, 32767)}", "--init",
        f"--label=com.dokku.app-name={app}", "--label=com.dokku.container-type=deploy",
        *os.environ["DOKKU_GLOBAL_RUN_ARGS"].split(" "),
    ]
    args += host.stdin_empty_words("docker-args-process-deploy", app, "dockerfile", image_tag, process_type, str(index))
    args += ["--env=PORT=5000", "--network=none"]
    start = host.property_get("ps", app, "start-cmd") or host.property_get("ps", app, "dockerfile-start-cmd")
    if not start:
        start = host.trigger("procfile-get-command", app, process_type, "5000", capture=True, check=False, quiet=True).strip()
    env = dict(os.environ)
    env.update(config.merged(app))
    created = host.docker("container", "create", *args, image, *shlex.split(start), env=env, check=False)
    if created.returncode != 0:
        raise host.Failure(f"Unable to create the {dyno} container of {app}")
    cid = created.stdout.strip()
    host.trigger("post-container-create", "app", cid, app, "deploy", process_type)
    host.docker("container", "start", cid, check=False, quiet=True)
    id_file = os.path.join(host.dokku_root(), app, f"CONTAINER.{dyno}")
    with open(id_file, "w", encoding="utf-8") as file:
        file.write(cid + "\n")


def rename_containers(app):
    """scheduler-docker-local core-post-deploy: each CONTAINER.TYPE.N's container is renamed
    APP.TYPE.N, a previous container of that name first renamed APP.TYPE.N.EPOCH."""
    host.info1("Renaming containers")
    for kind, index, path in container_files(app):
        name = f"{app}.{kind}.{index}"
        current = read_first_line(path)
        previous = host.docker("container", "ls", "--all", "--quiet", "--filter", f"name=^.?{name}$").split()
        for cid in previous:
            if current.startswith(cid):
                continue
            host.docker("container", "rename", name, f"{name}.{int(time.time())}", check=False, quiet=True)
        if host.docker("container", "rename", current, name, check=False, quiet=True).returncode != 0:
            host.warn(f"Failed to rename container {current[0:12]}")


# --- plugins/config -----------------------------------------------------------------------------


def config_set(app, updates, restart):
    """config.SetMany: writes, fires `post-config-update APP set KEYS...`, then unless
    --no-restart (and ps restore is not false), restarts a deployed app:
    `release-and-deploy APP "" config-redeploy`."""
    for key in updates:
        if not config.KEY.match(key):
            raise host.Failure(f"Invalid key name: '{key}'")
    host.info1_quiet("Setting config vars")
    if not os.environ.get("DOKKU_QUIET_OUTPUT"):
        width = max(len(key) for key in updates) + 1
        for key in sorted(updates):
            print(f"       {(key + ':').ljust(width)}  {updates[key]}")
    config.write(app, updates)
    host.trigger("post-config-update", app, "set", *sorted(updates))
    if restart and host.trigger("ps-get-property", app, "restore", capture=True).strip() != "false":
        if not host.is_deployed(app):
            return
        host.info1(f"Restarting app {app}")
        try:
            host.trigger("release-and-deploy", app, "", "config-redeploy")
        except host.Failure as failure:
            host.warn(f"Failure while restarting app: exit status {failure.code}")


# --- plugins/ps ---------------------------------------------------------------------------------


def ps_restart(app):
    """ps.Restart: `deploy APP TAG` with the running tag (`deployed-app-image-tag`, else latest)."""
    if not host.is_deployed(app):
        host.warn(f"App {app} has not been deployed")
        return
    tag = host.trigger("deployed-app-image-tag", app, capture=True).strip() or "latest"
    host.trigger("deploy", app, tag)


def ps_rebuild(app):
    """ps.Rebuild: `receive-app APP` (the git plugin rebuilds the deploy branch)."""
    verify_app_name(app)
    host.trigger("receive-app", app)


def procfile_command(app, path, process_type, port):
    """getProcfileCommand for TriggerProcfileGetCommand."""
    with open(path, encoding="utf-8") as file:
        entries = procfile.parse(file.read())
    if process_type not in entries:
        raise host.Failure("Error running procfile-util: no matching process entry found")
    return procfile.expand(entries[process_type], process_type, port, config.merged(app))


# --- plugins/plugin -----------------------------------------------------------------------------


def plugin_install():
    """`plugin:install` without a URL: `plugn trigger install` (with a URL, Dokku first clones
    and enables the plugin: the stand-in's tests install with install.sh instead)."""
    host.trigger("install")


def plugin_uninstall(name):
    """uninstall_plugin: refuses core plugins, then `plugn trigger uninstall NAME`, then
    `plugn uninstall NAME` (rm -rf its enabled and available entries)."""
    if os.path.exists(os.path.join(os.environ["PLUGIN_CORE_AVAILABLE_PATH"], name)):
        raise host.Failure("Cannot uninstall a core plugin")
    available = os.path.join(os.environ["PLUGIN_PATH"], "available", name)
    if not os.path.lexists(available):
        raise host.Failure(f"Plugin ({name}) is not currently installed")
    host.trigger("uninstall", name)
    for path in (os.path.join(os.environ["PLUGIN_PATH"], "enabled", name), available):
        if os.path.islink(path) or os.path.isfile(path):
            os.remove(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
    host.info1_quiet(f"Plugin {name} uninstalled")


def plugin_disable(name):
    """disable_plugin: no trigger; `plugn disable NAME` removes the enabled link."""
    if os.path.exists(os.path.join(os.environ["PLUGIN_CORE_AVAILABLE_PATH"], name)):
        raise host.Failure("Cannot disable a core plugin")
    enabled = os.path.join(os.environ["PLUGIN_PATH"], "enabled", name)
    if not os.path.lexists(enabled):
        raise host.Failure("Plugin already disabled")
    if not os.path.lexists(os.path.join(os.environ["PLUGIN_PATH"], "available", name)):
        raise host.Failure("Plugin does not exist")
    os.remove(enabled)
    host.info1_quiet(f"Plugin {name} disabled")


def setup_plugins():
    """Links every core-plugin model into $PLUGIN_PATH/available and enabled, as Dokku links its
    core plugins, leaving what is there alone; each link appears atomically (rename)."""
    for kind in ("available", "enabled"):
        directory = os.path.join(os.environ["PLUGIN_PATH"], kind)
        os.makedirs(directory, exist_ok=True)
        for name in sorted(os.listdir(host.CORE_PLUGINS)):
            link = os.path.join(directory, name)
            if os.path.lexists(link):
                continue
            staged = f"{link}.standin-{os.getpid()}"
            os.symlink(os.path.join(host.CORE_PLUGINS, name), staged)
            os.replace(staged, link)
