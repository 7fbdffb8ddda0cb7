#!/usr/bin/env bash
# Entrypoint of the project's image: everything the containers write (backups, log archives,
# reports, calendar, task logs) is private to the Airflow user (umask 077), then the official
# image's entrypoint runs as usual.
umask 077
exec /entrypoint "$@"
