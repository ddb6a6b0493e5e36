r"""``neurosym serve``: a local web page for the modeling assistant (and the FOL and Python targets).

A person types or pastes a problem, watches the model being written (the backend's progress
callback, sent to the page as server-sent events), and sees the model as mathematics (MathML,
drawn by the browser), the solution table, the independent check with each constraint's slack,
the binding constraints, sensitivity where the solver result carries it, and the conflicting
constraints of an infeasible model. The model text can be edited and re-solved with no model
call, and downloaded as LP, MPS or neurosym's own text, the solution as CSV.

Nothing is fetched from the internet: the page is a template, a style sheet and a short script,
all in this package. The server listens on 127.0.0.1 only; see :mod:`neurosym.serve.app` for the
Host, Origin and token checks.

Built on Starlette (routing, streaming responses, static files) served by uvicorn, with Jinja2
templates: small, well kept, typed, and already what the ``server`` extra installs.

Example:
    >>> from neurosym.serve.app import ServeConfig
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> config = ServeConfig(ScriptedBackend(["integer x\nmaximize x\nx <= 2"]), token="secret", port=8765)
    >>> config.url
    'http://127.0.0.1:8765/?token=secret'

"""

from __future__ import annotations

import socket
import threading
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from neurosym.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    from neurosym.serve.app import ServeConfig

__all__ = ["HOST", "bind", "require_framework", "serve"]

HOST = "127.0.0.1"
"""The only address the server listens on."""


def require_framework() -> None:
    """Raise :class:`~neurosym.errors.MissingDependencyError` unless the web framework is installed.

    Example:
        >>> require_framework()  # installed here

    """
    missing = []
    for module in ("starlette", "uvicorn", "jinja2"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingDependencyError(
            f"neurosym serve needs {', '.join(missing)}: pip install 'neurosym-toolkit[serve]'"
        )


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 at ``port`` (0: a free port the system picks).

    Example:
        >>> sock = bind(0)
        >>> sock.getsockname()[0], sock.getsockname()[1] > 0
        ('127.0.0.1', True)
        >>> sock.close()

    """
    if not 0 <= port <= 65535:
        raise InputError(f"the port must be between 0 and 65535, got {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    sock.listen(64)
    return sock


def serve(config: ServeConfig, sock: socket.socket, *, out: TextIO) -> bool:
    r"""Serve the page on ``sock`` until interrupted; print its address (with the token) to ``out`` first.

    Returns whether a signal (Ctrl-C, SIGTERM) stopped it, where the server returns rather than
    re-raising the signal (so that the command's exit status says so either way).

    ``config.port`` must be the socket's port (see :func:`bind`).

    Example:
        >>> import sys
        >>> from neurosym.serve.app import ServeConfig
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> sock = bind(0)
        >>> config = ServeConfig(ScriptedBackend(["integer x\nmaximize x\nx <= 2"]), port=sock.getsockname()[1])
        >>> serve(config, sock, out=sys.stdout)  # doctest: +SKIP
        neurosym serve: open http://127.0.0.1:...
        >>> sock.close()

    """
    require_framework()
    import uvicorn

    from neurosym.serve.app import create_app

    out.write(f"neurosym serve: open {config.url}\n(Ctrl-C stops it; the token changes at every launch)\n")
    out.flush()
    stopping = threading.Event()

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopping.set()  # the event streams end themselves, before the grace period cancels them
            super().handle_exit(sig, frame)

    # No access log: every request's address holds the token.
    settings = uvicorn.Config(
        create_app(config, stopping=stopping), log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    Server(settings).run(sockets=[sock])
    return stopping.is_set()
