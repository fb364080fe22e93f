"""common.CorePostExtract and common.CorePostDeploy (plugins/common/common.go) for one file:
how the app-json and ps plugins keep the app.json and Procfile of the deploy under way."""

import glob
import os
import shutil

from . import host


def core_post_extract(destination, source_work_dir, path, name, validator=None):
    """Copies SOURCE_WORK_DIR/PATH to DESTINATION/NAME.$DOKKU_PID, or touches
    DESTINATION/NAME.$DOKKU_PID.missing when the source has none; every `NAME.*` beside it
    (an earlier deploy's leftovers, its `.missing` marker included) is removed first. When PATH
    is not NAME, the source's NAME is replaced by PATH's content (or removed)."""
    os.makedirs(destination, mode=0o755, exist_ok=True)
    target = os.path.join(destination, name)
    process_specific = f"{target}.{host.pid()}"
    for stale in glob.glob(glob.escape(target) + ".*"):
        os.remove(stale)
    source = os.path.join(source_work_dir, path)
    repo_default = os.path.join(source_work_dir, name)
    if not os.path.isfile(source):
        if source != repo_default and os.path.isfile(repo_default):
            os.remove(repo_default)
        open(f"{process_specific}.missing", "w").close()
        return
    shutil.copyfile(source, process_specific)
    if source != repo_default:
        shutil.copyfile(source, repo_default)
    if validator is not None:
        validator(process_specific)


def core_post_deploy(destination, name):
    """Moves DESTINATION/NAME.$DOKKU_PID over DESTINATION/NAME; with only the `.missing` marker,
    removes the marker and DESTINATION/NAME."""
    os.makedirs(destination, mode=0o755, exist_ok=True)
    target = os.path.join(destination, name)
    process_specific = f"{target}.{host.pid()}"
    if os.path.isfile(process_specific):
        os.replace(process_specific, target)
    elif os.path.isfile(f"{process_specific}.missing"):
        os.remove(f"{process_specific}.missing")
        if os.path.isfile(target):
            os.remove(target)


def current(destination, name):
    """The copy a trigger of this deploy reads (getProcessSpecificAppJSONPath,
    getProcessSpecificProcfilePath), or None when there is none (hasAppJSON, hasProcfile)."""
    target = os.path.join(destination, name)
    process_specific = f"{target}.{host.pid()}"
    if os.path.isfile(f"{process_specific}.missing"):
        return None
    if os.path.isfile(process_specific):
        return process_specific
    return target if os.path.isfile(target) else None
