"""ReplicaBackend against two real HTTP servers on loopback (tiny chat-completions servers started here)."""

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.openai_compat import OpenAICompatBackend
from neurosym.translators.backends.replicas import ReplicaBackend
from neurosym.translators.base import GenerationRequest
from neurosym.translators.identity import backend_identity

pytestmark = pytest.mark.usefixtures("allow_live_requests")


class _Handler(BaseHTTPRequestHandler):
    """A model double at the HTTP boundary: its answer depends on the prompt and the seed only, like a seeded model."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        seed = body.get("seed", 0)
        choices = []
        for i in range(body.get("n", 1)):
            digest = hashlib.sha256(f"{prompt}|{seed}|{i}".encode()).hexdigest()[:8]
            choices.append({"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": digest}})
        self.server.requests.append(prompt)
        usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
        reply = {"id": "c", "object": "chat.completion", "created": 0, "model": self.server.model, "choices": choices}
        payload = json.dumps({**reply, "usage": usage}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def servers():
    started = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.requests, server.model = [], "tiny"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
    yield [s for s, _ in started]
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _url(server):
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _backend(url, model="tiny"):
    return OpenAICompatBackend.from_url(url, model, structured_output="none", max_retries=0, timeout=10)


REQUESTS = [GenerationRequest.from_prompt(f"question {i}") for i in range(12)]
SETTINGS = SamplingSettings(n=3, temperature=0.7, seed=5)


def test_requests_are_spread_over_both_servers_with_the_samples_one_server_gives(servers):
    with _backend(_url(servers[0])) as single:
        expected = [r.texts for r in single.generate(REQUESTS, settings=SETTINGS)]
    servers[0].requests.clear()
    with ReplicaBackend.from_urls(",".join(_url(s) for s in servers), "tiny", structured_output="none") as pool:
        got = [r.texts for r in pool.generate(REQUESTS, settings=SETTINGS)]
        assert pool.identity == backend_identity(single) == {"kind": "openai", "model": "tiny"}
        assert pool.served == [6, 6]
    assert got == expected  # each request whole on one server, with its seed: the same samples
    assert len(servers[0].requests) == len(servers[1].requests) == 6
    assert set(servers[0].requests).isdisjoint(servers[1].requests)


def test_concurrent_callers_are_balanced_by_requests_in_flight(servers):
    with ReplicaBackend([_backend(_url(s)) for s in servers]) as pool:
        threads = [threading.Thread(target=pool.generate, args=([request],)) for request in REQUESTS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(pool.served) == 12 and min(pool.served) >= 3


def test_a_server_that_went_away_leaves_its_requests_to_the_other(servers):
    down = servers[1]
    url = _url(down)
    down.shutdown()
    down.server_close()
    with ReplicaBackend([_backend(_url(servers[0])), _backend(url)], cooldown_s=60) as pool:
        results = pool.generate(REQUESTS[:4], settings=SETTINGS)
        assert [len(r.texts) for r in results] == [3] * 4
        assert pool.served == [4, 0]


def test_replicas_of_different_models_are_refused(servers):
    replicas = [_backend(_url(servers[0]), "tiny"), _backend(_url(servers[1]), "other")]
    with pytest.raises(ConfigurationError, match="different models"):
        ReplicaBackend(replicas)
    for replica in replicas:
        replica.close()


def test_a_live_benchmark_run_spreads_over_the_servers_and_records_a_cassette_that_replays(
    servers, shared_data, tmp_path, capsys
):
    from neurosym.cli import main

    urls = ",".join(_url(s) for s in servers)
    cassette = tmp_path / "recorded.jsonl"
    live = ["bench", "gsm8k_loop", "--items", "0:3", "--strategies", "cot,greedy,vote-5", "--no-plot", "--no-html"]
    assert main([*live, "--llm", "openai:tiny", "--base-url", urls, "--structured-output", "none", "--record",
                 "--cassette", str(cassette), "--out", str(tmp_path / "live")]) == 0  # fmt: skip
    assert servers[0].requests and servers[1].requests  # both servers answered
    rows = [json.loads(line) for line in (tmp_path / "live" / "gsm8k_loop.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and {r["model"]["model"] for r in rows} == {"tiny"}
    capsys.readouterr()
    assert main([*live, "--cassette", str(cassette), "--out", str(tmp_path / "replayed")]) == 0
    replayed = [json.loads(line) for line in (tmp_path / "replayed" / "gsm8k_loop.jsonl").read_text().splitlines()]
    fields = ("item", "strategy", "answer", "samples", "tokens", "sample_statuses")
    assert [{k: r[k] for k in fields} for r in replayed] == [{k: r[k] for k in fields} for r in rows]
    out = capsys.readouterr().out
    assert out.startswith("Items recorded: 3 of 3")
