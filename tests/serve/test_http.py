"""`neurosym serve` over plain HTTP: the Host, Origin and token checks, input limits, escaping, downloads.

Every request goes to a real `neurosym serve` process (tests/serve/conftest.py) through httpx.
"""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest

from neurosym.milp.files import load_model_text
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import solve_model
from neurosym.serve import bind
from neurosym.serve.app import MAX_BODY_BYTES, TOKEN_HEADER

from .conftest import CHAIRS, CHAIRS_MODEL, HOSTILE, HOSTILE_REPLY, stop_server


@pytest.fixture
def client(replay_server):
    with httpx.Client(base_url=replay_server.base, timeout=30) as session:
        yield session


def _auth(server, **extra):
    return {TOKEN_HEADER: server.token, **extra}


def _solve_and_wait(client, server, problem: str) -> str:
    """POST a problem, read the event stream to its end; the job id and the first sample's streamed text.

    The MILP default samples adaptively, so later samples may follow: each is the same scripted reply.
    """
    started = client.post("/api/solve", json={"problem": problem, "target": "milp"}, headers=_auth(server))
    assert started.status_code == 200, started.text
    job = started.json()["job"]
    streamed, names = "", []
    with client.stream("GET", f"/api/jobs/{job}/events", params={"token": server.token}) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in events.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
                names.append(name)
            elif line.startswith("data: ") and name == "token":
                event = json.loads(line[len("data: ") :])
                if event.get("sample", 0) == 0:
                    streamed += event["text"]
    assert names[-1] == "done"
    return job, streamed


def test_the_page_needs_the_token(client, replay_server):
    assert client.get("/").status_code == 403
    assert client.get("/", params={"token": "wrong"}).status_code == 403
    assert client.get("/", params={"token": replay_server.token[:-1]}).status_code == 403
    page = client.get("/", params={"token": replay_server.token})
    assert page.status_code == 200
    assert f'content="{replay_server.token}"' in page.text  # the script reads it from the page
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


def test_every_state_changing_request_needs_the_token(client, replay_server):
    body = {"problem": CHAIRS, "target": "milp"}
    assert client.post("/api/solve", json=body).status_code == 403
    assert client.post("/api/solve", json=body, headers={TOKEN_HEADER: "nope"}).status_code == 403
    check = {"target": "milp", "problem": "", "text": CHAIRS_MODEL}
    refused = client.post("/api/check", json=check)
    assert refused.status_code == 403 and "token" in refused.json()["error"]
    assert client.post("/api/check", json=check, headers=_auth(replay_server)).status_code == 200


def test_a_foreign_host_header_is_refused(client, replay_server):
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends its own Host.
    for host in ("evil.example", f"evil.example:{replay_server.port}", "127.0.0.1:1", "[::1]"):
        response = client.get("/", params={"token": replay_server.token}, headers={"Host": host})
        assert response.status_code == 400, host
    local = {"Host": f"localhost:{replay_server.port}"}
    allowed = client.get("/", params={"token": replay_server.token}, headers=local)
    assert allowed.status_code == 200


def test_a_foreign_origin_is_refused_even_with_the_token(client, replay_server):
    check = {"target": "milp", "problem": "", "text": CHAIRS_MODEL}
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{replay_server.port + 1}",
                   f"https://127.0.0.1:{replay_server.port}"):  # fmt: skip
        response = client.post("/api/check", json=check, headers=_auth(replay_server, Origin=origin))
        assert response.status_code == 403, origin
        assert "another site" in response.json()["error"]
    same = client.post("/api/check", json=check, headers=_auth(replay_server, Origin=replay_server.base))
    assert same.status_code == 200


def test_static_files_need_no_token_and_stay_in_their_folder(client):
    assert client.get("/static/style.css").status_code == 200
    assert "EventSource" in client.get("/static/page.js").text
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        response = client.get(path)
        assert response.status_code in (403, 404), path  # httpx folds "/static/../" away: then the token is missing
        assert "starlette" not in response.text


def test_bad_bodies_are_refused_with_a_message(client, replay_server):
    headers = _auth(replay_server, **{"Content-Type": "application/json"})
    too_big = client.post("/api/solve", content=b"x" * (MAX_BODY_BYTES + 1), headers=headers)
    assert too_big.status_code == 413 and "too large" in too_big.json()["error"]
    not_utf8 = client.post("/api/solve", content=b'{"problem": "\xff\xfe"}', headers=headers)
    assert not_utf8.status_code == 400 and "UTF-8 JSON" in not_utf8.json()["error"]
    for body, expected in (
        ([1, 2], "JSON object"),
        ({"problem": 12}, "must be text"),
        ({"problem": "  \n "}, "empty"),
        ({"problem": "x", "target": "lean"}, "unknown target"),
        ({"problem": "x" * 20_001}, "too long"),
    ):
        response = client.post("/api/solve", json=body, headers=_auth(replay_server))
        assert response.status_code in (400, 413), body
        assert expected in response.json()["error"], body


def test_a_full_solve_streams_the_model_and_serves_its_files(client, replay_server):
    job, streamed = _solve_and_wait(client, replay_server, CHAIRS)
    assert streamed == CHAIRS_MODEL.rstrip("\n") or streamed == CHAIRS_MODEL
    view = client.get(f"/api/jobs/{job}/view", params={"token": replay_server.token})
    assert view.status_code == 200
    expected = solve_model(parse_model(CHAIRS_MODEL))
    assert f'<span id="objective">{expected.objective:g}</span>' in view.text
    assert "<math" in view.text
    params = {"token": replay_server.token}
    lp = client.get(f"/api/jobs/{job}/model.lp", params=params)
    assert lp.headers["content-disposition"] == 'attachment; filename="model.lp"'
    mps = client.get(f"/api/jobs/{job}/model.mps", params=params)
    for text, fmt in ((lp.text, "lp"), (mps.text, "mps")):
        back = load_model_text(text, fmt).model
        assert solve_model(back).objective == pytest.approx(expected.objective)
        assert {c.name for c in back.constraints} >= {"wood", "hours"}
    csv_rows = client.get(f"/api/jobs/{job}/solution.csv", params=params).text.splitlines()
    assert csv_rows[0] == "variable,value,kind"
    assert {row.split(",")[0]: float(row.split(",")[1]) for row in csv_rows[1:]} == {
        **dict(expected.values),
        "objective": expected.objective,
    }
    assert client.get(f"/api/jobs/{job}/model.nsm", params=params).text == CHAIRS_MODEL
    assert client.get(f"/api/jobs/{job}/secrets.txt", params=params).status_code == 404
    assert client.get(f"/api/jobs/{job}/model.lp").status_code == 403


def test_script_tags_come_back_escaped(client, replay_server):
    job, streamed = _solve_and_wait(client, replay_server, HOSTILE)
    assert streamed == HOSTILE_REPLY  # the event stream carries JSON text; the page sets it as text
    view = client.get(f"/api/jobs/{job}/view", params={"token": replay_server.token}).text
    assert "<script" not in view and "<img" not in view and "<b>" not in view
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in view
    checked = client.post("/api/check", json={"target": "milp", "problem": HOSTILE, "text": HOSTILE_REPLY},
                          headers=_auth(replay_server))  # fmt: skip
    assert checked.status_code == 200
    assert "<script" not in checked.text and "&lt;script&gt;" in checked.text
    assert "invalid" in checked.text


def test_binary_and_control_characters_are_kept_as_text(client, replay_server):
    text = "integer x\nmaximize x\n\x00\x01\x7f\ud800 x <= 3 \u202e"
    body = json.dumps({"target": "milp", "problem": "", "text": text})  # ASCII JSON: the lone surrogate as \ud800
    headers = _auth(replay_server, **{"Content-Type": "application/json"})
    response = client.post("/api/check", content=body.encode(), headers=headers)
    assert response.status_code == 200
    assert "\x00" not in response.text and "\ufffd" in response.text  # NUL and the lone surrogate replaced


def test_an_lp_file_is_read_by_highs_and_solved(client, replay_server):
    lp = "Maximize\n obj: 3 x + 2 y\nSubject To\n cap: x + y <= 4\n lim: x <= 3\nGeneral\n x y\nEnd\n"
    response = client.post("/api/check", json={"target": "milp", "problem": "", "text": lp, "format": "lp"},
                           headers=_auth(replay_server))  # fmt: skip
    assert response.status_code == 200
    expected = solve_model(load_model_text(lp, "lp").model).objective
    assert f'<span id="objective">{expected:g}</span>' in response.text
    broken = client.post("/api/check", json={"target": "milp", "problem": "", "text": "garbage", "format": "mps"},
                         headers=_auth(replay_server))  # fmt: skip
    assert broken.status_code == 200 and 'id="error"' in broken.text


def test_unknown_runs_and_unfinished_ones_are_said(client, replay_server):
    missing = client.get("/api/jobs/0123456789abcdef/view", params={"token": replay_server.token})
    assert missing.status_code == 404 and "no such run" in missing.json()["error"]


def test_bind_listens_on_loopback_only():
    sock = bind(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_ctrl_c_ends_open_streams_and_exits_cleanly(tmp_path):
    import signal
    import threading

    from .conftest import closed_port, start_server

    log = tmp_path / "stderr.log"
    server = start_server(log, "--llm", "openai:m", "--base-url", f"http://127.0.0.1:{closed_port()}/v1",
                          "--llm-timeout", "30", "--structured-output", "none")  # fmt: skip
    try:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            job = client.post("/api/solve", json={"problem": CHAIRS}, headers=_auth(server)).json()["job"]
            names: list[str] = []
            opened = threading.Event()

            def follow() -> None:
                with client.stream("GET", f"/api/jobs/{job}/events", params={"token": server.token}) as events:
                    opened.set()
                    names.extend(line[7:] for line in events.iter_lines() if line.startswith("event: "))

            reader = threading.Thread(target=follow)
            reader.start()
            assert opened.wait(15)  # the model call is still retrying (for up to 30 s): the stream stays open
            time.sleep(0.3)
            os.killpg(server.process.pid, signal.SIGINT)
            assert server.process.wait(15) == 130
            reader.join(15)
        assert names == ["stopped"], names
        logged = log.read_text()
        assert "Traceback" not in logged and "ERROR" not in logged, logged
    finally:
        if server.process.poll() is None:
            stop_server(server)
        else:
            server.process.stdout.close()
