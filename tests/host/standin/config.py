"""The app config (plugins/config): where Dokku 0.38 keeps it, how it reads and writes it.

0.38 moved the files from $DOKKU_ROOT/APP/ENV to the config property path
(plugins/config/environment.go getAppFile, getGlobalFile; migrate.go MigrateEnvFiles).
"""

import json
import os
import re
import subprocess
import sys

from . import host

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def app_file(app):
    """getAppFile: $DOKKU_LIB_ROOT/config/APP/ENV."""
    return os.path.join(host.lib_root(), "config", app, "ENV")


def global_file():
    """getGlobalFile: $DOKKU_LIB_ROOT/config/--global/ENV."""
    return os.path.join(host.lib_root(), "config", "--global", "ENV")


def read(path):
    """A dotenv file as godotenv.Read reads it: `[export ]KEY=VALUE` lines; single quotes keep
    their content, double quotes take backslash escapes, bare values lose a trailing ` #...`."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return {}
    return parse(text)


def parse(text):
    values = {}
    i = 0
    while i < len(text):
        end = text.find("\n", i)
        line_end = len(text) if end < 0 else end
        line = text[i:line_end].strip()
        if not line or line.startswith("#") or "=" not in line:
            i = line_end + 1
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, _, rest = line.partition("=")
        key = key.strip()
        start = i + text[i:line_end].index("=") + 1
        rest_text = text[start:].lstrip(" \t")
        if rest_text[:1] in ("'", '"'):
            quote = rest_text[0]
            j = 1
            value = []
            while j < len(rest_text) and rest_text[j] != quote:
                if quote == '"' and rest_text[j] == "\\" and j + 1 < len(rest_text):
                    escaped = rest_text[j + 1]
                    value.append({"n": "\n", "r": "\r"}.get(escaped, escaped))
                    j += 2
                    continue
                value.append(rest_text[j])
                j += 1
            values[key] = "".join(value)
            consumed = len(text) - len(rest_text) + j + 1
            nxt = text.find("\n", consumed)
            i = len(text) if nxt < 0 else nxt + 1
            continue
        value = rest.strip()
        value = re.sub(r"\s+#.*$", "", value)
        values[key] = value
        i = line_end + 1
    return values


def merged(app):
    """LoadMergedAppEnv: the global config with the app's on top."""
    values = read(global_file())
    values.update(read(app_file(app)))
    return values


def envfile_string(values):
    """godotenv.Marshal (config-export `envfile`): sorted `KEY="value"` lines, with `\\`, newline,
    carriage return, `"`, `!`, `$` and backquote escaped; values strconv.Atoi accepts bare."""
    lines = []
    for key, value in values.items():
        number = _atoi(value)
        if number is not None:
            lines.append(f"{key}={number}")
            continue
        escaped = value
        for char in '\\\n\r"!$`':
            replacement = {"\n": "\\n", "\r": "\\r"}.get(char, "\\" + char)
            escaped = escaped.replace(char, replacement)
        lines.append(f'{key}="{escaped}"')
    return "\n".join(sorted(lines))


def _atoi(value):
    if re.fullmatch(r"[+-]?[0-9]+", value):
        number = int(value)
        if -(2**63) <= number < 2**63:
            return number
    return None


def export(app, merge, fmt):
    """config-export APP GLOBAL MERGED FORMAT, for the formats the models ask for."""
    values = merged(app) if merge else read(app_file(app))
    if fmt == "json":
        return json.dumps(values, separators=(",", ":"), sort_keys=True)
    if fmt == "envfile":
        return envfile_string(values)
    if fmt == "docker-args-keys":
        return " ".join(f"--env={key}" for key in sorted(values))
    raise host.Failure(f"config-export: the stand-in has no model of format {fmt}")


def write(app, updates):
    """Writes the app's ENV file with `updates` merged in (config.SetMany, godotenv.Write)."""
    path = app_file(app)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # tests/host/config-write writes godotenv's format (sorted, escaped, integers bare).
    helper = os.path.join(host.HOST_DIR, "config-write")
    pairs = [f"{key}={value}" for key, value in updates.items()]
    result = subprocess.run([sys.executable, helper, path, *pairs])
    if result.returncode != 0:
        raise host.Failure(f"tests/host/config-write {path} failed", result.returncode)
    os.chmod(path, 0o600)
