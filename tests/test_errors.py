import pickle

import pytest

import neurosym.errors as errors
from neurosym.errors import (
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    InputError,
    MissingDependencyError,
    NeurosymError,
    ParseError,
    RateLimitError,
    SolverCrashedError,
    SolverError,
    SolverUnavailableError,
    VerificationFailed,
)

ALL_ERRORS = [getattr(errors, name) for name in errors.__all__]


def test_all_lists_every_error_class():
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == errors.__name__
    }
    assert set(errors.__all__) == defined
    assert len(ALL_ERRORS) == 14


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_pickles_with_message_and_context(cls):
    err = cls("something broke", solver="z3", line=3, detail={"k": [1, 2]})
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(err, protocol=protocol))
        assert type(copy) is cls
        assert copy.message == "something broke"
        assert copy.context == {"solver": "z3", "line": 3, "detail": {"k": [1, 2]}}
        assert (copy.solver, copy.line, copy.detail) == ("z3", 3, {"k": [1, 2]})
        assert str(copy) == str(err)
        assert copy.args == err.args


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_pickles_without_context(cls):
    copy = pickle.loads(pickle.dumps(cls("plain")))
    assert type(copy) is cls
    assert str(copy) == "plain"
    assert copy.context == {}


def test_a_parse_error_survives_pickling_with_its_position():
    from neurosym.fol import parse_formula

    with pytest.raises(ParseError) as info:
        parse_formula("P(a) ∧\n∧ Q(b)")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.line, copy.column) == (2, 1)
    assert copy.excerpt == info.value.excerpt
    assert str(copy) == str(info.value)


def test_context_is_shown_in_str_except_quiet_keys():
    assert str(SolverError("boom", solver="z3")) == "boom (solver=z3)"
    assert str(SolverError("boom", solver=None)) == "boom"
    parse = ParseError("bad at line 1, column 2", line=1, column=2, excerpt="x\n ^", text="x", formula_index=0)
    assert str(parse) == "bad at line 1, column 2"
    assert str(ParseError("bad", hint_text="more")) == "bad (hint_text=more)"


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (ConfigurationError, (NeurosymError, ValueError)),
        (MissingDependencyError, (NeurosymError, ImportError)),
        (InputError, (NeurosymError, ValueError)),
        (ParseError, (NeurosymError, ValueError)),
        (BackendError, (NeurosymError,)),
        (BackendConnectionError, (BackendError,)),
        (BackendTimeoutError, (BackendError,)),
        (RateLimitError, (BackendError,)),
        (SolverError, (NeurosymError,)),
        (SolverUnavailableError, (SolverError,)),
        (SolverCrashedError, (SolverError,)),
        (VerificationFailed, (NeurosymError,)),
        (NeurosymError, (Exception,)),
    ],
)
def test_error_tree(cls, bases):
    for base in bases:
        assert issubclass(cls, base)
    assert issubclass(cls, NeurosymError)


def test_error_tree_keeps_families_apart():
    assert not issubclass(ParseError, SolverError)
    assert not issubclass(SolverError, ValueError)
    assert not issubclass(BackendError, SolverError)
    assert not issubclass(MissingDependencyError, ValueError)
    assert not issubclass(NeurosymError, ValueError)


def test_missing_dependency_is_caught_as_import_error():
    with pytest.raises(ImportError):
        raise MissingDependencyError("vllm is not installed: pip install neurosym-toolkit[vllm]")


def test_retryable_flags():
    retryable = {cls for cls in ALL_ERRORS if cls.retryable}
    assert retryable == {BackendConnectionError, BackendTimeoutError, RateLimitError}
    assert RateLimitError("slow down").retryable is True
    assert BackendError("500").retryable is False
