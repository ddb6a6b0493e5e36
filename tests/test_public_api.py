import json
import subprocess
import sys

import neurosym

PUBLIC = {
    "Answer",
    "Budget",
    "Strategy",
    "refine",
    "run_many",
    "AnswerKind",
    "Assignment",
    "BackendConnectionError",
    "BackendError",
    "BackendTimeoutError",
    "Certificate",
    "ConfigurationError",
    "EntailmentLabel",
    "Formalization",
    "InputError",
    "MissingDependencyError",
    "NeurosymError",
    "NumberAnswer",
    "ParseError",
    "PoolBrokenError",
    "Problem",
    "ProofAnswer",
    "RateLimitError",
    "SamplingSettings",
    "SolveResult",
    "SolverCrashedError",
    "SolverError",
    "SolverUnavailableError",
    "Status",
    "Verdict",
    "VerificationFailed",
    "__version__",
    "check_fol",
    "combine_verdicts",
    "get_backend",
    "get_prover",
    "list_provers",
    "parse_formula",
    "parse_formulas",
    "solve",
}


def test_all_is_exactly_the_public_surface():
    assert set(neurosym.__all__) == PUBLIC
    assert len(neurosym.__all__) == len(PUBLIC)  # no duplicates


def test_every_public_name_resolves():
    for name in neurosym.__all__:
        assert getattr(neurosym, name) is not None, name
    namespace = {}
    exec("from neurosym import *", namespace)
    assert PUBLIC <= set(namespace)


def test_public_names_are_the_subpackage_objects():
    from neurosym.errors import ParseError
    from neurosym.fol import parse_formula
    from neurosym.targets.fol.check import check_fol
    from neurosym.types import Verdict

    assert neurosym.check_fol is check_fol
    assert neurosym.ParseError is ParseError
    assert neurosym.parse_formula is parse_formula
    assert neurosym.Verdict is Verdict
    assert isinstance(neurosym.__version__, str) and neurosym.__version__.count(".") == 2


def test_bare_import_stays_light():
    code = "import json, sys; import neurosym; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(out.stdout))
    assert "neurosym" in loaded
    heavy = {
        "torch",
        "vllm",
        "llama_cpp",
        "transformers",
        "openai",
        "z3",
        "pulp",
        "highspy",
        "sympy",
        "networkx",
        "numpy",
    }
    assert loaded & heavy == set()
