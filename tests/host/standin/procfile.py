"""The Procfile as Dokku 0.38 reads it: `procfile-util show --procfile P --process-type T
--default-port N --env-file CONFIG` (plugins/ps/functions.go getProcfileCommand), with rules
learnt from dokku/procfile-util v0.20 (procfile/parse.go ParseProcfile, commands/main.go
expandEnv) and Go's os.Expand, in code of the stand-in's own."""

import re

COMMAND = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.+)$")
HASH_COMMENT = re.compile(r"^(.*)\s#.+$")
SLASH_COMMENT = re.compile(r"^(.*)\s//.+$")


class Invalid(Exception):
    pass


def parse(text):
    """ParseProcfile (not strict): NAME: COMMAND lines, `#` and `//` comment lines, a trailing
    ` #...` or ` //...` comment cut off; names unique and at most 63 characters."""
    entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("//"):
            continue
        match = COMMAND.match(line)
        if not match:
            raise Invalid(f"invalid line in procfile, line {number}")
        name, command = match.group(1), match.group(2)
        if len(name) > 63:
            raise Invalid(f"process name over 63 characters, line {number}")
        if name in entries:
            raise Invalid(f"process names must be unique, line {number}")
        comment = HASH_COMMENT.match(command) or SLASH_COMMENT.match(command)
        if comment:
            command = comment.group(1)
        command = command.strip()
        if command.startswith("#") or command.startswith("//"):
            raise Invalid(f"comment specified in place of command, line {number}")
        if not command:
            raise Invalid(f"no command specified, line {number}")
        entries[name] = command
    if not entries:
        raise Invalid("no entries found in Procfile")
    return entries


def expand(command, process_type, port, env):
    """expandEnv with an env file and without --allow-getenv: a name from the config, else PORT
    is the default port and PS the process type, else empty. `$(` is first rewritten to
    `${EXPENV_PARENTHESIS}`, a name only the process environment holds, which this mode never
    reads: so `$(` expands to nothing, as with the real tool."""
    command = command.replace("$(", "${EXPENV_PARENTHESIS}")

    def lookup(name):
        if name in env:
            return env[name]
        if name == "PORT":
            return str(port)
        if name == "PS":
            return process_type
        return ""

    return os_expand(command, lookup)


SPECIAL = set("*#$@!?-0123456789")


def _is_name_char(char):
    return char == "_" or char.isascii() and char.isalnum()


def os_expand(text, mapping):
    """Go's os.Expand: `$NAME`, `${NAME}`, one special character (`$1`, `$$`, ...); bad syntax
    (`${`, `${}`) is eaten; a `$` followed by nothing usable stays."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        rest = text[i + 1 :]
        if rest[0] == "{":
            if len(rest) > 2 and rest[1] in SPECIAL and rest[2] == "}":
                out.append(mapping(rest[1]))
                i += 4
                continue
            close = rest.find("}", 1)
            if close < 0:
                i += 2
                continue
            if close == 1:
                i += 3
                continue
            out.append(mapping(rest[1:close]))
            i += close + 2
            continue
        if rest[0] in SPECIAL:
            out.append(mapping(rest[0]))
            i += 2
            continue
        length = 0
        while length < len(rest) and _is_name_char(rest[length]):
            length += 1
        if length == 0:
            out.append("$")
            i += 1
            continue
        out.append(mapping(rest[:length]))
        i += 1 + length
    return "".join(out)
