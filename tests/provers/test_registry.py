import pytest

from neurosym import check_fol
from neurosym.errors import ConfigurationError
from neurosym.provers import Prover, ProverInfo, get_prover, list_provers
from neurosym.provers.cbc import CbcProver
from neurosym.provers.coq import CoqProver
from neurosym.provers.cvc5 import Cvc5Prover
from neurosym.provers.eprover import EProver
from neurosym.provers.highs import HighsProver
from neurosym.provers.lean import LeanProver
from neurosym.provers.python_sandbox import PythonSandboxProver
from neurosym.provers.sandbox import sandbox_problem
from neurosym.provers.z3 import Z3Prover
from neurosym.targets import target_names

PROVERS = [
    ("z3", Z3Prover, "fol"),
    ("eprover", EProver, "fol"),
    ("highs", HighsProver, "milp"),
    ("cbc", CbcProver, "milp"),
    ("python-sandbox", PythonSandboxProver, "python"),
    ("coq", CoqProver, "coq"),
    ("lean", LeanProver, "lean"),
    ("cvc5", Cvc5Prover, "choice"),
]


def test_list_provers_names_every_prover_with_its_target_and_availability():
    infos = list_provers()
    assert [(info.name, info.target) for info in infos] == [(name, target) for name, _, target in PROVERS]
    assert all(isinstance(info, ProverInfo) for info in infos)
    by_name = {info.name: info for info in infos}
    assert by_name["z3"].available is by_name["highs"].available is by_name["cbc"].available is True
    assert by_name["eprover"].available is EProver().available()
    assert by_name["python-sandbox"].available is (sandbox_problem() is None)


def test_every_builtin_target_has_a_prover():
    served = {info.target for info in list_provers()}
    assert served == set(target_names())


def test_list_provers_filters():
    assert [info.name for info in list_provers(target="fol")] == ["z3", "eprover"]
    assert [info.name for info in list_provers(target="milp")] == ["highs", "cbc"]
    assert [info.name for info in list_provers(target="python")] == ["python-sandbox"]
    assert [info.name for info in list_provers(target="choice")] == ["cvc5"]
    assert list_provers(target="no-such-target") == []
    available = [info.name for info in list_provers(available_only=True)]
    assert {"z3", "highs", "cbc"} <= set(available)
    assert ("eprover" in available) is EProver().available()


@pytest.mark.parametrize(("name", "cls", "target"), PROVERS)
def test_get_prover_builds_the_named_prover(name, cls, target):
    prover = get_prover(name)
    assert isinstance(prover, cls)
    assert isinstance(prover, Prover)
    assert prover.name == name
    assert prover.target == target


def test_get_prover_passes_options():
    assert get_prover("z3", minimize_cores=False).minimize_cores is False
    with pytest.raises(TypeError):
        get_prover("z3", no_such_option=True)


@pytest.mark.parametrize(
    ("name", "suggestion"), [("z4", "z3"), ("Z3", "z3"), ("eprove", "eprover"), ("e-prover", "eprover")]
)
def test_unknown_prover_suggests_the_closest_name(name, suggestion):
    with pytest.raises(ConfigurationError) as info:
        get_prover(name)
    message = str(info.value)
    assert f"unknown prover {name!r}" in message
    assert f"did you mean {suggestion!r}?" in message
    assert "Known provers: cbc, coq, cvc5, eprover, highs, lean, python-sandbox, z3" in message


def test_unknown_prover_without_a_close_name_lists_the_known_ones():
    with pytest.raises(ConfigurationError) as info:
        get_prover("vampire")
    assert "did you mean" not in str(info.value)
    assert "Known provers: cbc, coq, cvc5, eprover, highs, lean, python-sandbox, z3" in str(info.value)


def test_check_fol_with_an_unknown_prover_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="did you mean 'z3'"):
        check_fol(["P(a)"], "P(a)", provers=("z4",))
