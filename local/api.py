"""`python -m local.api`: `chalice local`, answering what API Gateway answers itself with our Gateway Responses.

Chalice's local server stands in for API Gateway; where API Gateway would answer without calling the
function, this one answers from `policies/gateway/responses.json` (infra/gateway.py), the list `make
package` deploys, so both send the same bytes:

- a path no route serves, or a method its path does not declare: MISSING_AUTHENTICATION_TOKEN (our 404);
- a body over API Gateway's 10 MB: REQUEST_TOO_LARGE (413), judged on `Content-Length` before the body
  is read (with `Expect: 100-continue`, before the client sends it);
- what chalice's own gateway would refuse (authorizers: none here) or a failure of the emulation itself.

Same options as `chalice local` (`--stage`, `--host`, `--port`, `--autoreload/--no-autoreload`); the
autoreload is chalice's own (a parent that restarts a worker when a file changes).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chalice.app import Chalice
from chalice.cli import reloader
from chalice.cli.factory import CLIFactory
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGatewayException,
    NotAuthorizedError,
    RouteMatcher,
    ThreadedHTTPServer,
)

from infra.gateway import GatewayAnswer, load

ROOT = Path(__file__).resolve().parents[1]
MAX_BODY = 10 * 1024 * 1024  # API Gateway's hard limit on a request body (REST APIs)
DRAIN_LIMIT = 64 * 1024 * 1024  # read (and drop) up to this much of a refused body, so the client reads our answer
NO_ROUTE, TOO_LARGE = "MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE"
log = logging.getLogger("cartable.local.api")


class GatewayRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler, with API Gateway's own answers taken from our list."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self._routes = app_object.routes  # set first: the base class serves the request in its __init__
        self._answers = load()
        super().__init__(request, client_address, server, app_object, config)

    def handle_expect_100(self) -> bool:
        """A client that waits for `100 Continue` learns of a too large body before it sends it."""
        length = self._content_length()
        if length is not None and length > MAX_BODY:
            self._answer(TOO_LARGE, close=True)
            return False
        return bool(super().handle_expect_100())

    def _generic_handle(self) -> None:
        length = self._content_length()
        if length is None:
            self._answer("DEFAULT_4XX", close=True)  # a Content-Length that is not a number
        elif length > MAX_BODY:
            self._answer(TOO_LARGE, close=True)
            self._discard(min(length, DRAIN_LIMIT))
        elif not self._routed():
            self._discard(length)
            self._answer(NO_ROUTE)
        else:
            try:
                super()._generic_handle()
            except Exception:
                log.exception("the local gateway failed")
                self._answer("DEFAULT_5XX", close=True)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _send_error_response(self, error: LocalGatewayException) -> None:
        """Chalice's gateway refusals (its no-route 403, its authorizers' 401/403/500), from our list."""
        if isinstance(error, NotAuthorizedError):
            self._answer("UNAUTHORIZED")
        else:
            self._answer(NO_ROUTE if error.CODE == 403 else "DEFAULT_5XX")

    def _routed(self) -> bool:
        """Would API Gateway call the function: a route for this path, declaring this method?"""
        try:
            route = RouteMatcher(list(self._routes)).match_route(self.path).route
        except ValueError:
            return False
        return self.command in self._routes[route]

    def _content_length(self) -> int | None:
        value = self.headers.get("Content-Length", "0")
        return int(value) if value.isdigit() else None

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 1024 * 1024))
            if not chunk:
                return
            length -= len(chunk)

    def _answer(self, kind: str, close: bool = False) -> None:
        answer: GatewayAnswer = self._answers[kind]
        headers: dict[str, Any] = answer.headers()
        if close:
            headers["Connection"] = "close"
            self.close_connection = True
        self._send_http_response(answer.status, headers, answer.body())


class _Worker(subprocess.Popen[bytes]):
    """The reloader's worker: this module again, with the same options (chalice's runs `sys.argv` as is,
    which for `python -m local.api` is a path to this file, not a command)."""

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        super().__init__([sys.executable, "-m", "local.api", *argv[1:]], env=env)


class BusyServer(ThreadedHTTPServer):
    """chalice local's threaded server, with a listen backlog for a class at once: the standard library's 5
    reset connections when 50 clients came together (API Gateway queues them)."""

    request_queue_size = 512


def create_server(stage: str, host: str, port: int, project_dir: Path = ROOT) -> LocalDevServer:
    """What `chalice local` builds (the project's app and stage configuration), with our request handler."""
    config = CLIFactory(str(project_dir), environ=os.environ).create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    # As chalice.local.create_local_server: the app keeps its current request per thread.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=GatewayRequestHandler, server_cls=BusyServer)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="chalice local, with API Gateway's own answers as ours.")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--autoreload", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_CHALICE_CLI_MODE", "true")  # as `chalice local` (Powertools' tracer stays off)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    os.chdir(ROOT)
    server = functools.partial(create_server, args.stage, args.host, args.port)
    if not args.autoreload:
        server().serve_forever()
    elif os.environ.get("CHALICE_WORKER"):  # the worker: serves, and exits asking for a restart on a change
        sys.exit(reloader.start_worker_process(server, str(ROOT)))
    else:  # the parent: starts the worker again each time it asks
        try:
            reloader.ParentProcess(os.environ, _Worker).main()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
