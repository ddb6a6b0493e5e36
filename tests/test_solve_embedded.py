"""The real-model smoke test: the small embedded model, grammar-constrained, end to end."""

import pytest

from neurosym.errors import MissingDependencyError
from neurosym.fol import parse_formula
from neurosym.settings import SamplingSettings
from neurosym.solving import solve

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def small_model():
    pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed (pip install 'neurosym-toolkit[embedded]')"
    )
    from neurosym.translators.backends import get_backend

    try:
        return get_backend("embedded:small", n_ctx=2048)
    except MissingDependencyError as err:
        pytest.skip(f"the small model's slices are not installed: {err}")


def test_small_model_constrained_two_premises(small_model, allow_live_requests):
    result = solve(
        premises=["All cats are mammals.", "Tom is a cat."],
        conclusion="Is Tom a mammal?",
        llm=small_model,
        settings=SamplingSettings(max_tokens=160),
    )
    assert result.formalization is not None, result.raw_output
    *premises, conclusion = result.formalization.source.splitlines()
    assert len(premises) == 2
    for formula in (*premises, conclusion.removeprefix("⊢ ")):
        parse_formula(formula)  # grammar-constrained output always parses
    assert result.verdict.status in {"proved", "disproved", "uncertain", "inconsistent", "invalid"}
    assert result.verdict.prover == "z3" or result.verdict.status == "invalid"
    assert result.usage.completion_tokens > 0 and result.usage.prompt_tokens > 0
    # solve's default decoder declares the signature first, then writes today's layout under it
    assert result.raw_output.startswith("Predicates:\n")
    assert "\nPremises:\n1. All cats are mammals.\nFOL: " in result.raw_output
    assert result.formalization.declared.splitlines()[-1].startswith("Constants: ")
