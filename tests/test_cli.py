import json
import subprocess
import sys
from pathlib import Path

import pytest

from neurosym.cli import main, read_fol_input
from neurosym.errors import InputError
from neurosym.provers.eprover import EProver

needs_e = pytest.mark.skipif(not EProver().available(), reason="the E prover (eprover) is not installed")


def write(tmp_path: Path, text: str, name: str = "p.fol") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_true_prints_premises_used_and_exits_0(tmp_path, capsys):
    path = write(tmp_path, "∀x (Man(x) → Mortal(x))\nMan(socrates)\nGreek(plato)\n⊢ Mortal(socrates)\n")
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("True  (proved, z3")
    assert "premises used: 1, 2" in out
    assert "Greek" not in out


def test_check_false_and_uncertain(tmp_path, capsys):
    path = write(tmp_path, "∀x (Dog(x) → ¬Cat(x))\nDog(rex)\n|- Cat(rex)\n")
    assert main(["check", path]) == 0
    assert capsys.readouterr().out.startswith("False  (disproved")
    path = write(tmp_path, "∀x (Dog(x) → Animal(x))\nDog(rex)\nconclusion: Cat(rex)\n")
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Uncertain  (uncertain")
    assert "a model of the premises where the conclusion is false" in out
    assert "a model of the premises where the conclusion is true" in out


def test_inconsistent_premises_exit_1(tmp_path, capsys):
    path = write(tmp_path, "P(a)\n¬P(a)\nQ(b)\n⊢ R(c)\n")
    assert main(["check", path]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INCONSISTENT")
    assert "[1] P(a)" in out and "[2] ¬P(a)" in out and "Q(b)" not in out


def test_parse_error_points_at_input_line_and_column(tmp_path, capsys):
    path = write(tmp_path, "# comment\nP(a)\n\n∀x (P(x) → Q(x)\n⊢ Q(a)\n")
    assert main(["check", path]) == 2
    out = capsys.readouterr().out
    assert "input line 4, column 4: unbalanced brackets" in out
    assert "   ^" in out


def test_signature_clash_and_repair(tmp_path, capsys):
    path = write(tmp_path, "Dog(rex)\nOwns(john, Dog)\n⊢ Dog(rex)\n")
    assert main(["check", path]) == 2
    assert "'Dog' is used as a predicate of arity 1" in capsys.readouterr().out
    assert main(["check", path, "--repair"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("True")
    assert "renamed constant 'Dog' to 'Dog_const'" in out


def test_conclusion_option_and_json_output(tmp_path, capsys):
    path = write(tmp_path, "P(a)\n")
    assert main(["check", path, "--conclusion", "∃x P(x)", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "proved" and data["answer"] == "True"
    assert data["certificate"]["indices"] == [0]


def test_json_input_with_folio_keys(tmp_path, capsys):
    path = write(tmp_path, json.dumps({"premises-FOL": ["P(a)"], "conclusion-FOL": "¬P(a)"}), "p.json")
    assert main(["check", path]) == 0
    assert capsys.readouterr().out.startswith("False")


def test_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"premises": ["P(a)"], "conclusion": "P(a)"}'))
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("True")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P(a)\n", "no conclusion"),
        ("P(a)\n⊢ Q(a)\n⊢ R(a)\n", "a second conclusion"),
        ("P(a)\n⊢   \n", "the conclusion is empty"),
        ('{"premises": "P(a)", "conclusion": "P(a)"}', "must be a list of strings"),
        ('{"premises": ["P(a)"], "conclusion": ', "invalid JSON at line 1"),
        ("", "the input is empty"),
        ("  \n\n", "the input is empty"),
    ],
)
def test_bad_input_gets_a_message_and_exit_2(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    assert main(["check", path]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.startswith("InputError: ")
    assert "Traceback" not in captured.err


def test_missing_file_and_binary_file(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.fol")]) == 2
    assert "no such file" in capsys.readouterr().err
    binary = tmp_path / "b.fol"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["check", str(binary)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_megabyte_input_is_refused(tmp_path, capsys):
    path = write(tmp_path, ("P(a) ∧ " * 200_000) + "P(a)\n⊢ P(a)\n")
    assert main(["check", path]) == 2
    assert "input too large" in capsys.readouterr().err


def test_unknown_prover_and_bad_usage(tmp_path, capsys):
    path = write(tmp_path, "P(a)\n⊢ P(a)\n")
    assert main(["check", path, "--prover", "z4"]) == 2
    assert "did you mean 'z3'" in capsys.readouterr().err
    assert main(["check", "--no-such-flag"]) == 2


@needs_e
def test_cross_check_reports_both_provers(tmp_path, capsys):
    path = write(tmp_path, "∀x (Man(x) → Mortal(x))\nMan(socrates)\n⊢ Mortal(socrates)\n")
    assert main(["check", path, "--cross-check"]) == 0
    out = capsys.readouterr().out
    assert "z3+eprover" in out
    assert "provers: z3 proved, eprover proved" in out


def test_provers_lists_z3(capsys):
    assert main(["provers"]) == 0
    assert "z3         fol    available" in capsys.readouterr().out


def test_read_fol_input_keeps_line_numbers():
    problem = read_fol_input("% header\nA\n\nB\n⊢ C\n")
    assert problem.premises == ["A", "B"] and problem.conclusion == "C"
    assert problem.lines == [2, 4, 5]
    with pytest.raises(InputError):
        read_fol_input("A\n", conclusion="  ")


def test_console_script_runs_as_a_module(tmp_path):
    path = write(tmp_path, "P(a)\n⊢ ¬P(a)\n")
    done = subprocess.run(
        [sys.executable, "-m", "neurosym", "check", path], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("False")


SOLVE_TEXT = "All dogs are animals. Rex is a dog. Is Rex an animal?"
SOLVE_OUTPUT = (
    "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n2. Rex is a dog.\nFOL: Dog(rex)\n"
    "Conclusion:\nIs Rex an animal?\nFOL: Animal(rex)"
)


def recorded_cassette(tmp_path: Path, reply: str) -> str:
    """A cassette recorded from a scripted model, as `neurosym solve --record` would write it."""
    from neurosym.loop import Strategy
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    path = tmp_path / "solve.jsonl"
    solve(SOLVE_TEXT, llm=RecordingBackend(ScriptedBackend([reply]), path), strategy=Strategy.greedy())
    return str(path)


def test_solve_replays_a_cassette(tmp_path, capsys):
    cassette = recorded_cassette(tmp_path, SOLVE_OUTPUT)
    assert main(["solve", "--samples", "1", SOLVE_TEXT, "--llm", f"replay:{cassette}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer: True  (proved, z3)")
    assert "Premises used: 1, 2" in out and "Dog(rex)" in out


def test_solve_takes_the_targets_strategy_unless_a_strategy_option_is_given():
    from neurosym.cli import _build_parser, _strategy
    from neurosym.targets.fol import DEFAULT_STRATEGY

    parse = _build_parser().parse_args
    assert _strategy(parse(["solve", "x"])) == DEFAULT_STRATEGY
    assert _strategy(parse(["solve", "x", "--agreement", "0.6"])).agreement == 0.6
    assert _strategy(parse(["solve", "x", "--temperature", "0.3"])).temperature == 0.3
    greedy = _strategy(parse(["solve", "x", "--samples", "1"]))
    assert greedy.samples == 1 and greedy.temperature == 0.0 and greedy.selection == "majority"
    assert _strategy(parse(["solve", "x", "--selection", "evidence"])).samples == 1
    # MILP: adaptive sampling at the swept temperature was best on the NL4Opt development items
    from neurosym.bench.rows import loop_strategy

    assert _strategy(parse(["solve", "--target", "milp", "x"])) == loop_strategy("adaptive@0.5")
    assert _strategy(parse(["solve", "--target", "milp", "x", "--samples", "3"])).temperature == 0.5
    assert _strategy(parse(["solve", "--target", "python", "x", "--samples", "3"])).temperature == 0.7
    assert _strategy(parse(["solve", "--target", "python", "x"])).samples == 1  # greedy was best on GSM8K dev


def test_solve_json_and_unreadable_model_output(tmp_path, capsys):
    cassette = recorded_cassette(tmp_path, "Sorry, I can't help.")
    assert main(["solve", "--samples", "1", SOLVE_TEXT, "--llm", f"replay:{cassette}", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"]["status"] == "invalid" and data["raw_output"].endswith("Sorry, I can't help.")


def test_solve_cassette_miss_is_a_clear_error(tmp_path, capsys):
    cassette = recorded_cassette(tmp_path, SOLVE_OUTPUT)
    text = "Cats purr. Tom is a cat. Does Tom purr?"
    assert main(["solve", "--samples", "1", text, "--llm", f"replay:{cassette}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("CassetteMiss: ") and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["solve", "   "], "the problem text is empty"),
        (["solve", "x. " * 20_000 + "y?", "--llm", "replay:none.jsonl"], "no cassette"),
        (["solve", SOLVE_TEXT, "--llm", "embeded"], "did you mean 'embedded'"),
        (["solve", "Is it raining?", "--llm", "replay:none.jsonl"], "no cassette"),
    ],
)
def test_solve_bad_input_exits_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_solve_enormous_text_is_refused(tmp_path, capsys):
    cassette = recorded_cassette(tmp_path, SOLVE_OUTPUT)
    assert main(["solve", "--samples", "1", "A dog barks. " * 5_000 + "Does it?", "--llm", f"replay:{cassette}"]) == 2
    assert "too long" in capsys.readouterr().err


def test_solve_against_a_dead_server(allow_live_requests, capsys):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["solve", SOLVE_TEXT, "--llm", "openai:some-model", "--base-url", f"http://127.0.0.1:{port}/v1"]
    assert main(argv) == 3  # an unreachable backend
    err = capsys.readouterr().err
    assert err.startswith("BackendConnectionError: ")
    assert f"127.0.0.1:{port}" in err and "Traceback" not in err


def test_solve_loop_options_and_trace(tmp_path, capsys):
    cassette = tmp_path / "vote.jsonl"
    from neurosym.loop.refine import Strategy
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    false = SOLVE_OUTPUT.replace("FOL: Animal(rex)", "FOL: ¬Animal(rex)")
    recorder = RecordingBackend(ScriptedBackend([SOLVE_OUTPUT, SOLVE_OUTPUT, false]), cassette)
    solve(SOLVE_TEXT, llm=recorder, strategy=Strategy.vote(3))
    argv = ["solve", SOLVE_TEXT, "--llm", f"replay:{cassette}", "--samples", "3", "--trace"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer: True") and "Votes: {'True': 2, 'False': 1} over 3 attempts" in out
    assert "cost: 3 samples" in out
    assert main([*argv, "--agreement", "0.9"]) == 1
    assert "abstained" in capsys.readouterr().out


def test_solve_cache_serves_a_repeated_run_without_the_model(tmp_path, capsys):
    cassette = recorded_cassette(tmp_path, SOLVE_OUTPUT)
    cache = tmp_path / "cache.sqlite"
    assert main(["solve", "--samples", "1", SOLVE_TEXT, "--llm", f"replay:{cassette}", "--cache", str(cache)]) == 0
    first = capsys.readouterr().out
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend
    from neurosym.translators.base import GenerationRequest

    # The same model, but its cassette knows nothing of this problem: only the cache can answer now.
    other = tmp_path / "other.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), other).generate([GenerationRequest.from_prompt("unrelated")])
    assert main(["solve", "--samples", "1", SOLVE_TEXT, "--llm", f"replay:{other}", "--cache", str(cache)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == first.splitlines()[0] == "Answer: True  (proved, z3)"
    from neurosym.loop.cache import Cache

    with Cache(cache) as stored:
        assert stored.stats() == {"responses": 1, "verdicts": 1}  # the verdict is cached too


WORD_PROBLEM = "Tom has 3 boxes of 12 pencils and gives away 5 pencils. How many pencils does he have left?"
needs_sandbox = pytest.mark.usefixtures("sandbox_available")


def recorded_program(tmp_path: Path, replies: list[str], **options) -> str:
    """A cassette of a scripted model answering the word problem with the python target."""
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    path = tmp_path / "python.jsonl"
    solve(WORD_PROBLEM, target="python", llm=RecordingBackend(ScriptedBackend(replies), path), **options)
    return str(path)


@needs_sandbox
def test_solve_python_target_prints_the_program_and_its_output(tmp_path, capsys):
    program = (
        "```python\ndef solution():\n    pencils = 3 * 12\n    print('start', pencils)\n    return pencils - 5\n```"
    )
    cassette = recorded_program(tmp_path, [program])
    assert main(["solve", "--target", "python", WORD_PROBLEM, "--llm", f"replay:{cassette}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer: 31  (computed, python-sandbox)")
    assert "    pencils = 3 * 12" in out and "start 36" in out and "solution() returned 31" in out


@needs_sandbox
def test_solve_python_target_repairs_a_failing_program(tmp_path, capsys):
    from neurosym.loop.refine import Strategy

    broken = "```python\ndef solution():\n    return pencils - 5\n```"
    fixed = "```python\ndef solution():\n    pencils = 36\n    return pencils - 5\n```"
    cassette = recorded_program(tmp_path, [broken, fixed], strategy=Strategy(samples=1, repair_rounds=1))
    argv = ["solve", "--target", "python", WORD_PROBLEM, "--llm", f"replay:{cassette}", "--repair-rounds", "1"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    attempts = data["loop"]["attempts"]
    assert data["target"] == "python" and data["answer"] == {"value": 31.0, "exact": "31"}
    assert "NameError: name 'pencils' is not defined" in attempts[0]["verdict"]["feedback"]
    assert [(a["sample"], a["repair"]) for a in attempts] == [(0, 0), (0, 1)]


@needs_sandbox
def test_solve_python_target_without_a_program_exits_1(tmp_path, capsys):
    cassette = recorded_program(tmp_path, ["The answer is 31."])
    assert main(["solve", "--target", "python", WORD_PROBLEM, "--llm", f"replay:{cassette}"]) == 1
    assert capsys.readouterr().out.startswith("Answer: INVALID")


@needs_sandbox
def test_sandbox_command_reports_the_escape_suite(capsys, monkeypatch):
    import neurosym.provers.sandbox.escapes as escapes

    monkeypatch.setattr(escapes, "ATTACKS", escapes.ATTACKS[:2])
    assert main(["sandbox"]) == 0
    assert capsys.readouterr().out.endswith("2 attacks tried, 2 contained\n")


def test_solve_python_target_without_a_sandbox_says_what_to_install(tmp_path, monkeypatch, capsys):
    import neurosym.provers.sandbox as sandbox

    cassette = recorded_cassette(tmp_path, SOLVE_OUTPUT)  # any cassette: the model is never asked
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert main(["solve", "--target", "python", WORD_PROBLEM, "--llm", f"replay:{cassette}"]) == 4  # missing dependency
    err = capsys.readouterr().err
    assert err.startswith("SandboxUnavailable: bwrap is not installed") and "apt-get install bubblewrap" in err


OPT_PROBLEM = (
    "A workshop makes chairs and tables. A chair uses 2 units of wood and 3 hours; a table uses 4 units of wood "
    "and 2 hours. There are 40 units of wood and 36 hours. A chair earns $30 and a table $50. Maximize profit."
)
OPT_MODEL = (
    "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\n"
    "wood: 2 chairs + 4 tables <= 40\nhours: 3 chairs + 2 tables <= 36\n"
)


def recorded_model(tmp_path: Path, replies: list[str], **options) -> str:
    """A cassette of a scripted model answering the optimization problem with the milp target."""
    from neurosym.loop import Strategy
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    path = tmp_path / "milp.jsonl"
    options.setdefault("strategy", Strategy.greedy())  # what `--samples 1` replays
    solve(OPT_PROBLEM, target="milp", llm=RecordingBackend(ScriptedBackend(replies), path), **options)
    return str(path)


def test_solve_milp_target_prints_the_model_the_solution_table_and_the_check(tmp_path, capsys):
    cassette = recorded_model(tmp_path, [OPT_MODEL])
    assert main(["solve", "--samples", "1", "--target", "milp", OPT_PROBLEM, "--llm", f"replay:{cassette}"]) == 0
    out = capsys.readouterr().out
    # 8 chairs and 6 tables use all 40 units of wood and all 36 hours: 8 * 30 + 6 * 50 = 540.
    assert out.startswith("Answer: 540 (optimal objective)  (optimal, pulp:highs+cbc)")
    assert "| wood | 2 chairs + 4 tables ≤ 40 |" in out
    assert "chairs    8      integer" in out and "tables    6      integer" in out
    assert "check: every bound, integrality and constraint holds (2 checked)" in out
    assert "binding: wood, hours" in out and "solvers: highs optimal 540, cbc optimal 540" in out


def test_solve_milp_target_repairs_an_infeasible_model_from_its_conflict(tmp_path, capsys):
    from neurosym.loop.refine import Strategy

    wrong = OPT_MODEL + "demand: chairs >= 30\n"
    cassette = recorded_model(tmp_path, [wrong, OPT_MODEL], strategy=Strategy(samples=1, repair_rounds=1))
    argv = ["solve", "--target", "milp", OPT_PROBLEM, "--llm", f"replay:{cassette}", "--repair-rounds", "1", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["loop"]["attempts"][0]["verdict"]
    assert first["status"] == "inconsistent"
    assert "demand: chairs >= 30" in first["feedback"] and "hours: 3 chairs + 2 tables <= 36" in first["feedback"]
    assert data["answer"]["objective"] == 540.0 and data["answer"]["values"] == {"chairs": 8.0, "tables": 6.0}
    assert data["verdict"]["certificate"]["kind"] == "milp_solution" and data["formalization"]["model"] == OPT_MODEL


def test_solve_milp_target_with_a_nonlinear_model_says_which_term(tmp_path, capsys):
    cassette = recorded_model(tmp_path, ["integer chairs, tables\nmaximize profit: 30 chairs * tables\n"])
    assert main(["solve", "--samples", "1", "--target", "milp", OPT_PROBLEM, "--llm", f"replay:{cassette}"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Answer: INVALID") and "'30 chairs * tables' multiplies variables together" in out


def test_version_and_help_list_the_exit_codes(capsys):
    import neurosym

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"neurosym {neurosym.__version__}"
    assert main(["solve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 answered", "1 no answer", "2 bad input", "3 the model backend", "4 a missing optional"):
        assert code in text


def test_info_reports_versions_models_and_the_llama_build(capsys):
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {m["alias"] for m in report["models"]} == {"default", "small"}
    assert all(len(m["sha256"]) == 64 for m in report["models"])
    assert report["provers"]["z3"] is True
    if report["llama_cpp"]["installed"]:
        assert "AVX512" not in report["llama_cpp"]["cpu_features"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--samples", "0"],
        ["--timeout", "-1"],
        ["--timeout", "nan"],
        ["--max-seconds", "inf"],
        ["--agreement", "1.5"],
        ["--temperature", "-0.1"],
        ["--repair-rounds", "-1"],
        ["--max-tokens", "zero"],
    ],
)
def test_bad_options_are_refused_before_the_model_loads(capsys, argv):
    # the backend spec names a model file that does not exist: reaching it would be another error
    assert main(["solve", "Rex is a dog. Is Rex a dog?", "--llm", "embedded:/no/such/model.gguf", *argv]) == 2
    err = capsys.readouterr().err
    assert f"argument {argv[0]}" in err and "model.gguf" not in err


def test_errors_are_json_with_json(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.fol"), "--json"]) == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["type"] == "InputError" and error["exit_code"] == 2 and "no such file" in error["message"]


def test_server_options_belong_to_the_openai_backend(tmp_path, capsys):
    for argv in (["--structured-output", "none"], ["--base-url", "http://h/v1"], ["--llm-timeout", "5"]):
        assert main(["solve", "Rex is a dog. Is Rex a dog?", "--llm", "embedded:small", *argv]) == 2
        assert "is an option of --llm openai" in capsys.readouterr().err
    assert main(["solve", "x. y?", "--llm", "openai:m", "--structured-output", "grammar"]) == 2  # not a mode


def test_the_structured_output_mode_reaches_the_backend(monkeypatch, capsys):
    from neurosym.translators import backends

    seen = {}

    def fake(spec, **options):  # stop before any request: the test is about what the CLI passes on
        seen.update(options)
        raise backends.ConfigurationError("stop here")

    monkeypatch.setattr(backends, "get_backend", fake)
    argv = ["solve", "Rex is a dog. Is Rex a dog?", "--llm", "openai:m", "--base-url", "http://h/v1"]
    assert main([*argv, "--structured-output", "llamacpp", "--llm-timeout", "7"]) == 2
    assert seen == {"base_url": "http://h/v1", "structured_output": "llamacpp", "timeout": 7.0}
