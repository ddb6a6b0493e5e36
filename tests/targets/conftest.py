"""Fixtures shared by the target tests."""

import pytest

from neurosym.errors import MissingDependencyError
from neurosym.grammars._testing import LlamaGrammarCheck


@pytest.fixture(scope="session")
def llama_grammar():
    """llama.cpp's own grammar engine (with the small model's vocabulary), to check what a grammar accepts.

    Skipped only where llama-cpp-python or the small embedded model is not installed (scripts/install
    puts both in place); any other failure to start it is a test error.
    """
    try:
        return LlamaGrammarCheck()
    except MissingDependencyError as err:
        pytest.skip(f"llama-cpp-python or the small embedded model is not installed: {err}")
