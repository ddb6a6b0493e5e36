"""Fixtures for `neurosym serve`: a cassette of scripted model replies, servers started as `neurosym serve`.

The model is the only thing replaced: its replies are scripted (ScriptedBackend, a test double at
the model boundary) and recorded to a cassette through the same `solve()` call the server makes,
and each server is a real `python -m neurosym serve --llm replay:CASSETTE --port 0` process, with
the real solvers behind it.
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from neurosym.processes import kill_and_reap, spawn
from neurosym.provers.sandbox import SandboxUnavailable
from neurosym.settings import SamplingSettings
from neurosym.solving import solve
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend

REPO = Path(__file__).resolve().parents[2]
CHAIRS = (
    "A workshop makes chairs and tables. A chair earns $30 and a table $50. A chair needs 2 units of wood "
    "and 3 hours of work; a table 4 units of wood and 2 hours. There are 40 units of wood and 36 hours. "
    "How many of each should it make to earn the most?"
)
CHAIRS_MODEL = (
    "integer chairs, tables\n"
    "maximize profit: 30 chairs + 50 tables\n"
    "wood: 2 chairs + 4 tables <= 40\n"
    "hours: 3 chairs + 2 tables <= 36\n"
)
HOSTILE = "Plan <script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> & more"
HOSTILE_REPLY = "Sure! <script>document.title='pwned'</script>\nintegr x <b>bold</b>"
PENS = "Tom has 3 boxes of 12 pens and gives 5 away. How many pens are left?"
PENS_PROGRAM = "```python\ndef solution():\n    return 3 * 12 - 5\n```"
REPLIES = [(CHAIRS, "milp", CHAIRS_MODEL), (HOSTILE, "milp", HOSTILE_REPLY), (PENS, "python", PENS_PROGRAM)]
STARTUP_S = 60.0


@dataclass
class Server:
    """A running `neurosym serve`: its process, its address with the token, the token and the port."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def cassette(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cassette with one scripted reply per problem (every sample of it), recorded through the server's `solve()`."""
    path = tmp_path_factory.mktemp("serve-cassette") / "replies.jsonl"
    for problem, target, reply in REPLIES:
        recorder = RecordingBackend(ScriptedBackend(lambda request, index, r=reply: r, model="scripted-modeler"), path)
        try:
            solve(problem, target=target, llm=recorder, settings=SamplingSettings(max_tokens=None), timeout=10.0)
        except SandboxUnavailable:  # the Python test skips on such a machine; the others still run
            continue
    return path


def start_server(log: Path, *args: str) -> Server:
    """Start `python -m neurosym serve --port 0 ARGS...` (its stderr to ``log``) and read the address it prints."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NEUROSYM_LLM", None)
    command = [sys.executable, "-m", "neurosym", "serve", "--port", "0", *args]
    with log.open("wb") as stderr:
        process = spawn(command, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=str(REPO))
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline, printed = time.monotonic() + STARTUP_S, b""
    while b"\n" not in printed and time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.2):
            printed += os.read(process.stdout.fileno(), 4096)
    selector.close()
    found = re.search(rb"http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]+)", printed)
    if found is None:
        kill_and_reap(process)
        process.stdout.close()
        stderr = log.read_text(errors="replace")
        pytest.fail(f"neurosym serve printed no address: {printed!r}; stderr: {stderr[-2000:]}")
    port, token = int(found.group(1)), found.group(2).decode()
    return Server(process, found.group(0).decode(), token, port, log)


def stop_server(server: Server) -> None:
    """Stop the server's process group, reap it, and fail if it logged an error."""
    kill_and_reap(server.process)
    assert server.process.stdout is not None
    server.process.stdout.close()
    logged = server.log.read_text(errors="replace")
    assert "Traceback" not in logged and "ERROR" not in logged, logged[-4000:]


@pytest.fixture(scope="session")
def replay_server(cassette: Path, tmp_path_factory: pytest.TempPathFactory):
    """`neurosym serve --llm replay:CASSETTE`, for the whole session."""
    server = start_server(tmp_path_factory.mktemp("serve-replay") / "stderr.log", "--llm", f"replay:{cassette}")
    yield server
    stop_server(server)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def dead_backend_server(tmp_path_factory: pytest.TempPathFactory):
    """`neurosym serve --llm openai` pointed at a port nothing listens on: every model call fails."""
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    log = tmp_path_factory.mktemp("serve-dead") / "stderr.log"
    server = start_server(log, "--llm", "openai:some-model", "--base-url", base_url, "--llm-timeout", "3",
                          "--structured-output", "none")  # fmt: skip
    yield server
    stop_server(server)
