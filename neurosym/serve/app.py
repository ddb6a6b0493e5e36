r"""The web app: a Starlette application on 127.0.0.1, guarded by Host and Origin checks and a per-launch token.

Routes (every one but ``/static/`` needs the token, as ``?token=`` or the ``X-Neurosym-Token`` header):

=================================  ==================================================================
``GET /``                          the page
``POST /api/solve``                ``{"problem", "target"}``: start a solve through the model; ``{"job"}``
``GET /api/jobs/ID/events``        the model's text as it is written (server-sent events), then ``done``
``GET /api/jobs/ID/view``          the outcome as an HTML fragment (model, solution, check, sensitivity)
``POST /api/check``                ``{"target", "problem", "text", "format"}``: check edited text (or an
                                   LP or MPS file's), no model call
``GET /api/jobs/ID/FILE``          ``model.lp``, ``model.mps``, ``model.nsm``, ``solution.csv``
=================================  ==================================================================

Why the guards: the page runs the model, the solvers and (for the Python target) the sandbox on
this machine. Binding 127.0.0.1 keeps other machines out; the Host check stops a web page from
reaching the server through a DNS name rebound to 127.0.0.1; the Origin check stops another
page's scripts from sending requests; the token, printed only in the terminal, stops other local
users and pages that guess the port. Responses forbid inline scripts (Content-Security-Policy),
so text that gets into the page is never run, and every value is escaped by the templates.

Example:
    >>> from starlette.testclient import TestClient
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> app = create_app(ServeConfig(ScriptedBackend(["integer x\nmaximize x\nx <= 2"]), token="t", port=8765))
    >>> client = TestClient(app, base_url="http://127.0.0.1:8765")
    >>> client.get("/").status_code, client.get("/?token=t").status_code
    (403, 200)

"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neurosym.errors import NeurosymError
from neurosym.serve.formats import model_file, solution_csv
from neurosym.serve.jobs import Job, JobBoard
from neurosym.serve.views import PAGE_TARGETS, Outcome, check_text, error_outcome, outcome_of_result, result_view
from neurosym.translators.base import LLMBackend

__all__ = ["MAX_BODY_BYTES", "MAX_TEXT_CHARS", "TOKEN_HEADER", "ServeConfig", "create_app"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
"""Largest request body accepted (1 MiB); the text limits below are far smaller."""
MAX_TEXT_CHARS = 100_000
"""Longest model text the editor may send (a MILP model is refused beyond its own limit, 50,000)."""
TOKEN_HEADER = "X-Neurosym-Token"
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's address holds the token
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_DOWNLOADS = {
    "model.lp": "text/plain",
    "model.mps": "text/plain",
    "model.nsm": "text/plain",
    "solution.csv": "text/csv",
}


@dataclass(frozen=True)
class ServeConfig:
    """What the server runs with.

    Attributes:
        backend: the model backend (any that ``neurosym solve --llm`` builds).
        token: the per-launch secret every request but static files must carry.
        port: the port it listens on (the Host and Origin checks compare with it).
        timeout_s: seconds for each check (prover call, program run, both MILP solvers).
        max_tokens: most tokens the model may write (``None``: the target's default).
        constrained: grammar-constrained decoding (``None``: where the backend supports it).
        targets: the targets the page offers; the first is selected.
        backend_label: how the page names the backend.

    Example:
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> config = ServeConfig(ScriptedBackend([]), token="t", port=8000)
        >>> sorted(config.origins)
        ['http://127.0.0.1:8000', 'http://localhost:8000']

    """

    backend: LLMBackend
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = 8765
    timeout_s: float = 10.0
    max_tokens: int | None = None
    constrained: bool | None = None
    targets: tuple[str, ...] = PAGE_TARGETS
    backend_label: str = ""

    @property
    def hosts(self) -> frozenset[str]:
        """The Host header values accepted."""
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        """The Origin header values accepted."""
        return frozenset({f"http://{host}" for host in self.hosts})

    @property
    def url(self) -> str:
        """The page's address, token included (printed at launch)."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Guard:
    """ASGI middleware: the Host, Origin and token checks, and the security headers on every response."""

    def __init__(self, app: ASGIApp, config: ServeConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            status, text = refusal
            response = JSONResponse({"error": text}, status_code=status)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        if headers.get("host", "") not in self.config.hosts:
            return 400, f"this server answers only at http://127.0.0.1:{self.config.port}"
        origin = headers.get("origin")
        if origin is not None and origin not in self.config.origins:
            return 403, "a request from another site was refused"
        if str(scope.get("path", "")).startswith("/static/"):
            return None
        given = headers.get(TOKEN_HEADER) or QueryParams(scope.get("query_string", b"")).get("token") or ""
        if not secrets.compare_digest(given.encode("utf-8", "replace"), self.config.token.encode("utf-8")):
            return 403, "missing or wrong token: open the address that 'neurosym serve' printed"
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return 413, f"the request is too large (the limit is {MAX_BODY_BYTES:,} bytes)"
        return None


def _clean(text: str) -> str:
    """Text safe to keep and show: lone surrogates (from JSON escapes) and NUL replaced."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


async def _read_json(request: Request) -> dict[str, Any]:
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Refused(413, f"the request is too large (the limit is {MAX_BODY_BYTES:,} bytes)")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Refused(400, "the request is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the request must be a JSON object")
    return data


def _field(data: dict[str, Any], name: str, *, limit: int, what: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise _Refused(400, f"'{name}' must be text")
    if len(value) > limit:
        raise _Refused(413, f"{what} is too long: {len(value):,} characters (the limit is {limit:,})")
    return _clean(value)


def _handled(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as refused:
            return JSONResponse({"error": refused.message}, status_code=refused.status)

    return wrapped


def create_app(config: ServeConfig, *, stopping: threading.Event | None = None) -> Starlette:
    """The Starlette application for ``config`` (served by :func:`neurosym.serve.serve`).

    ``stopping`` is set when the server shuts down: open event streams end then, instead of
    being cancelled when the shutdown's grace period runs out.

    Example:
        >>> from starlette.testclient import TestClient
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> client = TestClient(create_app(ServeConfig(ScriptedBackend([]), token="t", port=80)))
        >>> client.get("/?token=t", headers={"Host": "evil.example"}).json()
        {'error': 'this server answers only at http://127.0.0.1:80'}

    """
    stopping = stopping or threading.Event()
    from neurosym.settings import SamplingSettings
    from neurosym.solving import MAX_PROBLEM_TEXT, solve

    templates = Environment(
        loader=PackageLoader("neurosym.serve", "templates"), autoescape=True, undefined=StrictUndefined
    )
    board = JobBoard()

    def job_of(request: Request, *, finished: bool = True) -> Job:
        job = board.get(request.path_params["job"])
        if job is None:
            raise _Refused(404, "no such run (the server keeps the latest ones only)")
        if finished and not job.finished:
            raise _Refused(409, "the run has not finished yet")
        return job

    def fragment(job: Job) -> HTMLResponse:
        assert job.outcome is not None
        body = templates.get_template("result.html").render(
            job=job, outcome=job.outcome, view=result_view(job.outcome), token=config.token
        )
        return HTMLResponse(body)

    async def page(request: Request) -> Response:
        body = templates.get_template("page.html").render(
            token=config.token, targets=config.targets, backend=config.backend_label or config.backend.model
        )
        return HTMLResponse(body)

    def run(job: Job) -> None:
        outcome: Outcome | None = None
        try:
            settings = SamplingSettings(max_tokens=config.max_tokens)
            result = solve(job.problem, target=job.target, llm=config.backend, settings=settings,
                           constrained=config.constrained, timeout=config.timeout_s, progress=job.report)  # fmt: skip
            outcome = outcome_of_result(result, job.problem)
        except NeurosymError as exc:
            outcome = error_outcome(job.target, job.problem, exc)
        except Exception as exc:  # a bug: the page says so, the log keeps the traceback
            logger.exception("the solve failed")
            outcome = error_outcome(job.target, job.problem, exc)
        finally:
            board.model_busy.release()
            if outcome is None:  # interrupted by something other than an exception (a signal's exit)
                outcome = error_outcome(job.target, job.problem, RuntimeError("the run was stopped"))
            job.finish(outcome)

    async def start_solve(request: Request) -> Response:
        data = await _read_json(request)
        target = _target(data, config)
        problem = _field(data, "problem", limit=MAX_PROBLEM_TEXT, what="the problem text").strip()
        if not problem:
            raise _Refused(400, "the problem text is empty")
        if not board.model_busy.acquire(blocking=False):
            raise _Refused(409, "the model is still writing the previous problem's model; wait for it to finish")
        job = board.add(Job(target, problem))
        threading.Thread(target=run, args=(job,), name=f"neurosym-serve-{job.id}", daemon=True).start()
        return JSONResponse({"job": job.id})

    async def events(request: Request) -> Response:
        job = job_of(request, finished=False)

        async def stream() -> AsyncIterator[str]:
            cursor = 0
            while True:
                finished = job.finished  # read before the events, so none reported before the end is missed
                batch = job.events_since(cursor)
                cursor += len(batch)
                for name, data in batch:
                    yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                if finished:
                    yield "event: done\ndata: {}\n\n"
                    return
                if stopping.is_set():
                    yield f"event: stopped\ndata: {json.dumps({'error': 'the server is shutting down'})}\n\n"
                    return
                await asyncio.sleep(0.05)

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def view(request: Request) -> Response:
        return fragment(job_of(request))

    async def check(request: Request) -> Response:
        data = await _read_json(request)
        target = _target(data, config)
        problem = _field(data, "problem", limit=MAX_PROBLEM_TEXT, what="the problem text")
        text = _field(data, "text", limit=MAX_TEXT_CHARS, what="the model text")
        fmt = data.get("format", "nsm")
        if fmt not in ("nsm", "lp", "mps"):
            raise _Refused(400, "the format is nsm, lp or mps")
        outcome = await run_in_threadpool(check_text, target, problem, text, timeout_s=config.timeout_s, fmt=fmt)
        return fragment(board.add(Job(target, problem, outcome=outcome)))

    async def download(request: Request) -> Response:
        job = job_of(request)
        name = request.path_params["file"]
        if name not in _DOWNLOADS:
            raise _Refused(404, f"no such file: {name}")
        body = await run_in_threadpool(_file_body, job, name)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type=_DOWNLOADS[name], headers=headers)

    routes = [
        Route("/", page),
        Route("/api/solve", _handled(start_solve), methods=["POST"]),
        Route("/api/check", _handled(check), methods=["POST"]),
        Route("/api/jobs/{job}/events", _handled(events)),
        Route("/api/jobs/{job}/view", _handled(view)),
        Route("/api/jobs/{job}/{file}", _handled(download)),
        Mount("/static", StaticFiles(packages=[("neurosym.serve", "static")]), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_Guard, config=config)])


def _target(data: dict[str, Any], config: ServeConfig) -> str:
    target = data.get("target", config.targets[0])
    if target not in config.targets:
        raise _Refused(400, f"unknown target; the page offers {', '.join(config.targets)}")
    return str(target)


def _file_body(job: Job, name: str) -> str:
    from neurosym.milp.linearize import LinearizationError
    from neurosym.milp.report import CheckedSolution

    outcome = job.outcome
    assert outcome is not None
    if name == "model.nsm":
        if not outcome.text:
            raise _Refused(409, "this run has no model text")
        return outcome.text
    if name == "solution.csv":
        certificate = outcome.verdict.certificate if outcome.verdict is not None else None
        if not isinstance(certificate, CheckedSolution):
            raise _Refused(409, "this run has no checked solution")
        return solution_csv(certificate.values, certificate.kinds, certificate.objective)
    model = outcome.milp_model
    if model is None:
        raise _Refused(409, "this run has no MILP model that parses")
    try:
        return model_file(model, "lp" if name == "model.lp" else "mps")
    except LinearizationError as exc:
        raise _Refused(409, f"the model cannot be written as a linear program: {exc}") from None
