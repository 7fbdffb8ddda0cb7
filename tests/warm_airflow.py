"""A warm ``airflow`` CLI for the tests: one interpreter per pytest process that has imported
Airflow once, forking a child for each command.

Each ``airflow dags test`` started afresh spends about eight of its twelve seconds of CPU before
the first task runs: importing Airflow and the Task SDK, building the CLI, and building the
in-process Execution API (Cadwyn generates its versioned routers). The suite runs some fifty of
them. This server does that work once; each command then runs in a forked child, which calls
Airflow's own CLI entry point (``airflow.__main__.main``) with the command's arguments, in the
command's environment and working directory, with its stdout and stderr in the files it was
given. The child's exit status is the command's. A child shares nothing back: each run starts
from the same warm, untouched interpreter (Airflow's own ``register_at_fork`` drops the metadata
DB connections a child inherits).

What import time reads cannot change between commands: the client (``tests/airflow_cli.py``)
sends only commands whose Airflow configuration (``AIRFLOW__*``, ``AIRFLOW_HOME``,
``AIRFLOW_CONFIG``) and ``PYTHONPATH`` are the server's; any other starts the real CLI in a
process of its own. The server imports nothing of the project: the DAG files and the tasks
import it in the child, under the command's environment.

Protocol (JSON lines on the server's stdin / stdout): ``{"argv", "env", "cwd", "stdout",
"stderr"}`` in (the paths of files the child appends to); ``{"pid"}`` once the child runs, then ``{"returncode"}`` when it has exited.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback

#: libraries the tasks import, imported once by the server too (they read no environment on import)
WARM_MODULES = ("numpy", "pandas", "pymongo", "httpx")


def _warm() -> None:
    import importlib

    import airflow.__main__  # noqa: F401 - Airflow, its configuration, settings and logging
    from airflow.cli import cli_parser
    from airflow.sdk.execution_time import supervisor

    cli_parser.get_parser()
    api = supervisor.in_process_api_server()
    api.app._cadwyn_initialize()  # what the first request of a run would do
    for name in WARM_MODULES:
        importlib.import_module(name)
    from airflow import settings

    if settings.engine is not None:
        settings.engine.dispose()  # no metadata DB connection for the children to inherit
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("ta_scheduler", "dags"))
    assert not leaked, f"the warm server imported project modules under its own environment: {leaked}"
    threads = [t.name for t in threading.enumerate()]
    assert threads == ["MainThread"], f"a fork copies no thread, so none may run in the warm server: {threads}"
    # every run gets this instance, as the first call in a fresh process would have made it
    supervisor.in_process_api_server = lambda: api


def _run_child(request: dict) -> None:
    """In the forked child: the command, then ``os._exit`` with its status (never returns)."""
    code = 1
    try:
        os.setpgid(0, 0)  # the command and anything it starts: one group the client can kill
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)  # both may name one file
            os.dup2(out, fd)
            os.close(out)
        for fd in request["_close"]:
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["airflow", *request["argv"]]
        import airflow.__main__

        try:
            airflow.__main__.main()
            code = 0
        except SystemExit as exc:  # as the interpreter reports it at exit
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
    except BaseException:  # noqa: BLE001 - reported as an uncaught exception would be
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - the status matters more than a lost flush
                pass
        os._exit(code)


def serve() -> None:
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # stray output of the server goes to its log, not into the protocol
    _warm()
    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in requests:
        request = {**json.loads(line), "_close": (requests.fileno(), replies.fileno())}
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        replies.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")


if __name__ == "__main__":
    serve()
