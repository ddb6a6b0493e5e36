"""A catalogue of bad input: every entry gets a message and its documented exit code, never a traceback.

The same inputs through the Python API raise only neurosym's own errors. The malformed model
answers come from a real HTTP server on loopback that answers ``/v1/chat/completions`` with each
catalogue body (a test double at the model boundary: the backend under test is the real one).
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from neurosym.cli import main
from neurosym.errors import NeurosymError

PROBLEM = "All dogs are animals. Rex is a dog. Is Rex an animal?"
FOL_OUTPUT = (
    "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n2. Rex is a dog.\nFOL: Dog(rex)\n"
    "Conclusion:\nIs Rex an animal?\nFOL: Animal(rex)"
)

# --- a server that answers badly ---------------------------------------------------------------------

MALFORMED: dict[str, tuple[int, str, bytes]] = {
    "content-object": (200, "application/json", json.dumps({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": {"text": "P(a)"}},
                     "finish_reason": "stop"}],
    }).encode()),
    "usage-string": (200, "application/json", json.dumps({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": FOL_OUTPUT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": "many", "completion_tokens": 3, "total_tokens": 3},
    }).encode()),
    "usage-huge": (200, "application/json", (
        b'{"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "message": '
        b'{"role": "assistant", "content": "P(a)"}, "finish_reason": "stop"}], '
        b'"usage": {"prompt_tokens": 1e400, "completion_tokens": 3, "total_tokens": 3}}'
    )),
    "no-choices": (200, "application/json", b'{"id": "x", "object": "chat.completion", "model": "m", "choices": []}'),
    "not-json": (200, "application/json", b"<html><body>502 Bad Gateway</body></html>"),
    "empty-body": (200, "application/json", b""),
    "html-error": (500, "text/html", b"<html>Internal Server Error</html>"),
    "rejects-field": (400, "application/json", json.dumps({
        "detail": [{"type": "extra_forbidden", "loc": ["body", "structured_outputs"],
                    "msg": "Extra inputs are not permitted"}],
    }).encode()),
}  # fmt: skip


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        case = self.path.strip("/").split("/")[0]
        self.rfile.read(int(self.headers.get("content-length") or 0))
        status, kind, body = MALFORMED[case]
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def bad_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the catalogue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments (after building files in ``tmp``), stdin, the exit code, a message part."""

    name: str
    argv: Callable[[Path], list[str]]
    code: int
    says: str
    stdin: str | None = None


def _nested_json(tmp: Path) -> str:
    path = tmp / "deep.json"
    path.write_text('{"premises": ' + "[" * 60_000 + "]" * 60_000 + ', "conclusion": "P(a)"}', encoding="utf-8")
    return str(path)


def _binary(tmp: Path, name: str = "binary.jsonl") -> str:
    path = tmp / name
    path.write_bytes(bytes(range(256)) * 64)
    return str(path)


def _read_only_folder(tmp: Path) -> str:
    return "/proc/neurosym-cassette.jsonl"  # not writable even for root (a chmod'ed folder is, for root)


def _solve(*extra: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["solve", PROBLEM, *extra]


CASES = [
    Case("timeout nan", lambda tmp: ["check", "-", "--timeout", "nan"], 2, "finite number"),
    Case("timeout inf", lambda tmp: ["check", "-", "--timeout", "inf"], 2, "finite number"),
    Case("solve timeout inf", _solve("--timeout", "inf"), 2, "finite number"),
    Case("negative timeout", _solve("--timeout", "-3"), 2, "finite number"),
    Case("samples 0", _solve("--samples", "0"), 2, "at least 1"),
    Case("max-seconds nan", _solve("--max-seconds", "nan"), 2, "finite number"),
    Case("check /dev/zero", lambda tmp: ["check", "/dev/zero"], 2, "too large"),
    Case("json nested 60000 deep", lambda tmp: ["check", _nested_json(tmp)], 2, "nested too deeply"),
    Case("empty stdin", lambda tmp: ["check"], 2, "the input is empty", stdin=""),
    Case("a directory", lambda tmp: ["check", str(tmp)], 2, "is a directory"),
    Case("binary problem file", lambda tmp: ["check", _binary(tmp, "b.fol")], 2, "not UTF-8"),
    Case("binary cassette", lambda tmp: ["solve", PROBLEM, "--llm", f"replay:{_binary(tmp)}"], 2, "cassette"),
    Case("cassette is a directory", lambda tmp: ["solve", PROBLEM, "--llm", f"replay:{tmp}"], 2, "cassette"),
    Case("missing cassette", lambda tmp: ["solve", PROBLEM, "--llm", f"replay:{tmp}/none.jsonl"], 2, "cassette"),
    Case(
        "record into a directory",
        lambda tmp: ["solve", PROBLEM, "--llm", "embedded:/no/such.gguf", "--record", str(tmp)],
        2,
        "is a directory",
    ),
    Case(
        "record into a read-only place",
        lambda tmp: ["solve", PROBLEM, "--llm", "embedded:/no/such.gguf", "--record", _read_only_folder(tmp)],
        2,
        "writable",
    ),
    Case("unknown backend", _solve("--llm", "embeded"), 2, "did you mean 'embedded'"),
    Case("missing model file", _solve("--llm", "embedded:/no/such/model.gguf"), 2, "such"),
    Case(
        "cache that is not SQLite",
        lambda tmp: ["solve", PROBLEM, "--cache", _binary(tmp, "c.sqlite")],
        2,
        "not a readable SQLite file",
    ),
    Case(
        "dead server",
        lambda tmp: ["solve", PROBLEM, "--llm", "openai:m", "--base-url", f"http://127.0.0.1:{_free_port()}/v1"],
        3,
        "127.0.0.1",
    ),
    Case("text too long", lambda tmp: ["solve", "Rex barks. " * 3000], 2, "too long"),
    Case("unknown prover", lambda tmp: ["check", "-", "--prover", "z4"], 2, "z4", stdin="P(a)\n⊢ P(a)\n"),
]


def _run(case: Case, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(case.stdin if case.stdin is not None else "P(a)\n⊢ P(a)\n"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_bad_input_gets_a_message_and_its_exit_code(case, tmp_path, monkeypatch, capsys, allow_live_requests):
    _run(case, tmp_path, monkeypatch)
    code = main(case.argv(tmp_path))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert code == case.code, captured.err
    assert case.says in captured.err, captured.err


@pytest.mark.parametrize("answer", sorted(MALFORMED))
def test_each_malformed_server_answer_is_a_backend_failure(answer, bad_server, capsys, allow_live_requests):
    argv = ["solve", PROBLEM, "--llm", "openai:m", "--base-url", f"{bad_server}/{answer}/v1"]
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    # a usable answer after all (usage fields are only bookkeeping) may be decided; otherwise exit 3
    assert code in ((0, 1, 3) if answer.startswith("usage") else (3,)), captured.err


def test_the_real_command_prints_no_traceback(tmp_path):
    """A few entries through the installed entry point, to see what a user's terminal shows."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for argv, code in (
        (["check", "/dev/zero"], 2),
        (["check", _nested_json(tmp_path)], 2),
        (["solve", PROBLEM, "--timeout", "nan"], 2),
        (["solve", PROBLEM, "--llm", f"replay:{_binary(tmp_path)}"], 2),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "neurosym", *argv], capture_output=True, text=True, timeout=120, env=env
        )
        assert run.returncode == code, run.stderr
        assert "Traceback" not in run.stderr and run.stderr.strip()


# --- the same through the Python API ------------------------------------------------------------------


def _api_cases(tmp: Path, server: str) -> list[tuple[str, Callable[[], object]]]:
    import neurosym
    from neurosym.cli import read_fol_input
    from neurosym.fol import parse_formula
    from neurosym.loop.cache import Cache
    from neurosym.milp import parse_model, solve_model
    from neurosym.provers.sandbox import Limits
    from neurosym.translators.backends import get_backend
    from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    model = parse_model("integer x\nmaximize x\nx <= 3")
    return [
        ("check_fol timeout nan", lambda: neurosym.check_fol(["P(a)"], "P(a)", timeout=float("nan"))),
        ("check_fol timeout inf", lambda: neurosym.check_fol(["P(a)"], "P(a)", timeout=float("inf"))),
        ("solve timeout nan", lambda: neurosym.solve(PROBLEM, llm=ScriptedBackend([FOL_OUTPUT]), timeout=float("nan"))),
        ("solve_model time_limit inf", lambda: solve_model(model, time_limit=float("inf"))),
        ("sandbox limits nan", lambda: Limits(wall_s=float("nan"))),
        ("nested JSON", lambda: read_fol_input('{"premises": ' + "[" * 60_000 + "]" * 60_000 + ', "conclusion": "x"}')),
        ("deep formula", lambda: parse_formula("¬" * 50_000 + "P(a)")),
        ("binary cassette", lambda: ReplayBackend(_binary(tmp))),
        ("record into a directory", lambda: RecordingBackend(ScriptedBackend(["x"]), tmp)),
        ("cache not SQLite", lambda: Cache(_binary(tmp, "x.sqlite"))),
        ("dead server", lambda: neurosym.solve(
            PROBLEM, llm=get_backend("openai:m", base_url=f"http://127.0.0.1:{_free_port()}/v1"))),
        *[
            (f"server answers {answer}", lambda answer=answer: neurosym.solve(
                PROBLEM, llm=get_backend("openai:m", base_url=f"{server}/{answer}/v1", max_retries=0)))
            for answer in sorted(MALFORMED) if not answer.startswith("usage")
        ],
    ]  # fmt: skip


def test_the_python_api_raises_only_neurosyms_errors(tmp_path, bad_server, allow_live_requests):
    for name, call in _api_cases(tmp_path, bad_server):
        try:
            call()
        except NeurosymError:
            continue
        except Exception as exc:
            pytest.fail(f"{name}: {type(exc).__name__}: {exc}")
        pytest.fail(f"{name}: no error was raised")
