"""app.json as Dokku 0.38 reads it (plugins/app-json/appjson.go ReadAppJSON), with a parser of
the stand-in's own: whitespace-only is `{}`; otherwise JSONC (hujson: `//` and `/* */` comments
and trailing commas allowed, then standardised), decoded by Go's encoding/json into the AppJSON
struct: object keys match field names case-insensitively, a repeated key decodes again into the
same field (the last wins, and a repeated object merges into the earlier one's struct), `null`
leaves a field as it was, and a value of the wrong type is an error."""

import json

SCHEMA = {
    "scripts": {
        "dokku": {"predeploy": str, "postdeploy": str},
        "postdeploy": str,
    },
}


class Invalid(Exception):
    pass


class Pairs(list):
    """A JSON object as its (key, value) pairs in order: Go sees every repeated key."""


def read(path):
    with open(path, encoding="utf-8") as file:
        text = file.read()
    if not text.strip():
        return {}
    try:
        pairs = json.loads(standardize(text), object_pairs_hook=Pairs)
    except json.JSONDecodeError as error:
        raise Invalid(f"Cannot parse app.json as jsonc: {error}") from error
    return decode(pairs, SCHEMA, {}, "")


def standardize(text):
    """Strips comments and trailing commas outside strings (hujson Standardize)."""
    out = []
    i = 0
    pending_comma = None
    while i < len(text):
        char = text[i]
        if char == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if pending_comma is not None:
                out.append(",")
                pending_comma = None
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise Invalid("Cannot parse app.json as jsonc: unterminated /* comment")
            out.append(" ")
            i = end + 2
        elif char == ",":
            if pending_comma is not None:
                out.append(",")
            pending_comma = i
            i += 1
        elif char in " \t\r\n":
            out.append(char)
            i += 1
        else:
            if pending_comma is not None and char not in "}]":
                out.append(",")
            pending_comma = None
            out.append(char)
            i += 1
    if pending_comma is not None:
        out.append(",")
    return "".join(out)


def decode(value, schema, into, where):
    """Go's json.Unmarshal of `value` into a struct shaped by `schema` (a dict of field names)."""
    if value is None:
        return into
    if not isinstance(value, Pairs):
        raise Invalid(f"Cannot parse app.json: cannot unmarshal {_kind(value)} into {where or 'AppJSON'}")
    for key, item in value:
        field = next((name for name in schema if name.casefold() == key.casefold()), None)
        if field is None:
            continue
        path = f"{where}.{field}" if where else field
        kind = schema[field]
        if isinstance(kind, dict):
            into[field] = decode(item, kind, into.get(field, {}), path)
        elif item is None:
            continue
        elif not isinstance(item, str):
            raise Invalid(f"Cannot parse app.json: cannot unmarshal {_kind(item)} into field {path} of type string")
        else:
            into[field] = item
    return into


def _kind(value):
    if isinstance(value, Pairs):
        return "object"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array"


def phase_script(app_json, phase):
    """getPhaseScript: `heroku.postdeploy` is scripts.postdeploy, `predeploy` and `postdeploy`
    are under scripts.dokku."""
    scripts = app_json.get("scripts", {})
    if phase == "heroku.postdeploy":
        return scripts.get("postdeploy", "")
    return scripts.get("dokku", {}).get(phase, "")
