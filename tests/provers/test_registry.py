import pytest

from neurosym import check_fol
from neurosym.errors import ConfigurationError
from neurosym.provers import Prover, ProverInfo, get_prover, list_provers
from neurosym.provers.eprover import EProver
from neurosym.provers.z3 import Z3Prover


def test_list_provers_names_z3_and_eprover_with_availability():
    infos = list_provers()
    assert [info.name for info in infos] == ["z3", "eprover"]
    assert all(isinstance(info, ProverInfo) and info.target == "fol" for info in infos)
    by_name = {info.name: info for info in infos}
    assert by_name["z3"].available is True
    assert by_name["eprover"].available is EProver().available()


def test_list_provers_filters():
    assert [info.name for info in list_provers(target="fol")] == ["z3", "eprover"]
    assert list_provers(target="lean") == []
    available = [info.name for info in list_provers(available_only=True)]
    assert "z3" in available
    assert ("eprover" in available) is EProver().available()


@pytest.mark.parametrize(("name", "cls"), [("z3", Z3Prover), ("eprover", EProver)])
def test_get_prover_builds_the_named_prover(name, cls):
    prover = get_prover(name)
    assert isinstance(prover, cls)
    assert isinstance(prover, Prover)
    assert prover.name == name
    assert prover.target == "fol"


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
    assert "Known provers: eprover, z3" in message


def test_unknown_prover_without_a_close_name_lists_the_known_ones():
    with pytest.raises(ConfigurationError) as info:
        get_prover("vampire")
    assert "did you mean" not in str(info.value)
    assert "Known provers: eprover, z3" in str(info.value)


def test_check_fol_with_an_unknown_prover_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="did you mean 'z3'"):
        check_fol(["P(a)"], "P(a)", provers=("z4",))
