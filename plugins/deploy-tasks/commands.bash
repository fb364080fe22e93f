#!/usr/bin/env bash
# Dokku's entry point for `dokku help` and any command no subcommand file answers:
# `libexec/deploy-tasks` prints the help, runs this plugin's commands, and exits 10
# (DOKKU_NOT_IMPLEMENTED_EXIT) for every other plugin's.
exec "$(dirname "$(readlink -f "$0")")/libexec/deploy-tasks" "$@"
