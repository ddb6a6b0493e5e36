"""Grammar-constrained decoding speed: llama-cpp-python's sampler against the top-k-first one.

Translates one small FOL problem greedily with the embedded model, first with the whole
vocabulary matched against the grammar at every step, then with
:mod:`neurosym.translators.backends._llama_grammar`. Each is run after a warm-up, so the prompt is
already evaluated and the time is generation. Prints ms per generated token and whether the outputs
are the same.

Run:
    python -m benchmarks.grammar_speed [default|small]
"""

from __future__ import annotations

import sys
import time

from neurosym.settings import SamplingSettings
from neurosym.targets.fol.translator import build_fol_request
from neurosym.translators.backends import llamacpp
from neurosym.types import Problem


def main(model: str = "default") -> int:
    """Time both samplers on one request and print the figures."""
    llamacpp.check_allow_live_requests = lambda name: None  # a benchmark may call the model
    problem = Problem(
        premises=("All dogs are animals.", "All animals need water.", "Rex is a dog."),
        conclusion="Does Rex need water?",
    )
    request = build_fol_request(problem, constrained=True)
    greedy = SamplingSettings(temperature=0.0, max_tokens=200, seed=0)
    backend = llamacpp.LlamaCppBackend.from_path(model, fast_grammar=False)
    outputs = {}
    for label in ("warm-up", "full vocabulary", "top-64 first"):
        if label == "top-64 first":
            from neurosym.translators.backends._llama_grammar import install

            install(backend.llm)
        started = time.perf_counter()
        [result] = backend.generate([request], settings=greedy)
        elapsed = time.perf_counter() - started
        tokens = max(1, result.usage.completion_tokens)
        outputs[label] = result.texts[0]
        print(f"{label:16} {elapsed:6.1f} s  {tokens} tokens  {1000 * elapsed / tokens:5.0f} ms/token")
    print("same output:", outputs["full vocabulary"] == outputs["top-64 first"])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
