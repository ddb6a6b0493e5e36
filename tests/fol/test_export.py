import random
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import z3

from neurosym.errors import ParseError
from neurosym.fol import parse_formula, parse_formulas
from neurosym.fol.export import smtlib_problem, tptp_formula, tptp_name, tptp_problem
from neurosym.fol.signature import check_signature
from neurosym.fol.syntax import Not
from neurosym.provers.z3 import Z3Prover

# --- TPTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tptp"),
    [
        ("P(a)", "p_P(c_a)"),
        ("Rain", "p_Rain"),
        ("¬P(a)", "~(p_P(c_a))"),
        ("A ∧ B ∧ C", "(p_A & p_B & p_C)"),
        ("A ∨ B", "(p_A | p_B)"),
        ("A ⊕ B", "(p_A <~> p_B)"),
        ("A → B", "(p_A => p_B)"),
        ("A ↔ B", "(p_A <=> p_B)"),
        ("a = b", "(c_a = c_b)"),
        ("a ≠ b", "~((c_a = c_b))"),
        ("a != b", "~((c_a = c_b))"),
        ("∀x P(x)", "(! [V_x] : p_P(V_x))"),
        ("∃x P(x)", "(? [V_x] : p_P(V_x))"),
        ("∀x ∃y Loves(x, y)", "(! [V_x] : (? [V_y] : p_Loves(V_x,V_y)))"),
        ("P(f(a, g(b)))", "p_P(f_f(c_a,f_g(c_b)))"),
        ("A → B → C", "(p_A => (p_B => p_C))"),
        ("A ⊕ B ⊕ C", "((p_A <~> p_B) <~> p_C)"),
        ("∀x (Dog(x) → Animal(x))", "(! [V_x] : (p_Dog(V_x) => p_Animal(V_x)))"),
    ],
)
def test_tptp_for_each_connective(text, tptp):
    assert tptp_formula(parse_formula(text)) == tptp


def test_tptp_problem_layout():
    premises = parse_formulas(["∀x (Dog(x) → Animal(x))", "Dog(rex)"])
    assert tptp_problem(premises, parse_formula("Animal(rex)")).splitlines() == [
        "fof(p0, axiom, (! [V_x] : (p_Dog(V_x) => p_Animal(V_x)))).",
        "fof(p1, axiom, p_Dog(c_rex)).",
        "fof(goal, conjecture, p_Animal(c_rex)).",
    ]
    assert tptp_problem(premises).count("conjecture") == 0
    assert tptp_problem([], parse_formula("P(a) ∨ ¬P(a)")) == "fof(goal, conjecture, (p_P(c_a) | ~(p_P(c_a))))."


@pytest.mark.parametrize(
    ("kind", "name", "mangled"),
    [
        ("pred", "Risk-averse", "p_Risk_u002daverse"),
        ("const", "mr.smith", "c_mr_u002esmith"),
        ("const", "gpt-3", "c_gpt_u002d3"),
        ("const", "c++", "c_c_u002b_u002b"),
        ("pred", "Companies’Stocks", "p_Companies_u2019Stocks"),
        ("const", "a_b", "c_a__b"),
        ("func", "fatherOf", "f_fatherOf"),
        ("var", "x", "V_x"),
        ("var", "X_1", "V_X__1"),
        ("const", "\U0001d49c", "c__U0001d49c"),
    ],
)
def test_tptp_name_mangling(kind, name, mangled):
    assert tptp_name(kind, name) == mangled


def test_mangling_is_injective_on_lookalike_names():
    names = [
        "a_b",
        "a.b",
        "ab",
        "a__b",
        "a_u002eb",
        "a-b",
        "a’b",
        "mr.smith",
        "mr_smith",
        "mrsmith",
        "\U0001d49c",
        "ᵉc",
    ]
    mangled = [tptp_name("const", n) for n in names]
    assert len(set(mangled)) == len(names), dict(zip(names, mangled, strict=True))


def _unmangle(text):
    out, i = [], 0
    while i < len(text):
        if text.startswith("__", i):
            out.append("_")
            i += 2
        elif text.startswith("_u", i):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        elif text.startswith("_U", i):
            out.append(chr(int(text[i + 2 : i + 10], 16)))
            i += 10
        else:
            assert text[i].isascii() and text[i].isalnum(), text
            out.append(text[i])
            i += 1
    return "".join(out)


def test_mangling_can_be_undone_so_it_is_injective():
    rng = random.Random(7)
    alphabet = "abuU0123_.-+’é\u1d49\U0001d49c"
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        for kind, prefix in [("pred", "p_"), ("func", "f_"), ("const", "c_"), ("var", "V_")]:
            mangled = tptp_name(kind, name)
            assert mangled.startswith(prefix)
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", mangled), mangled
            assert _unmangle(mangled[2:]) == name


def test_roles_never_share_a_tptp_name():
    assert len({tptp_name(kind, "Dog") for kind in ("pred", "func", "const", "var")}) == 4


def _folio_problems(items):
    problems = []
    for index, item in enumerate(items):
        try:
            formulas = parse_formulas([*item["premises-FOL"], item["conclusion-FOL"]])
        except ParseError:
            continue
        assert not check_signature(formulas), index
        problems.append((index, formulas))
    return problems


@pytest.mark.eprover
def test_e_parses_every_exported_folio_problem(folio_items, e_prover, tmp_path):
    problems = _folio_problems(folio_items)
    assert len(problems) >= 199

    def parse_with_e(entry):
        index, formulas = entry
        path = tmp_path / f"folio{index}.p"
        path.write_text(tptp_problem(formulas[:-1], formulas[-1]) + "\n", encoding="utf-8")
        out = subprocess.run(
            [e_prover.executable, "--cnf", "--no-preprocessing", "--cpu-limit=10", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return index, len(formulas), out

    with ThreadPoolExecutor(max_workers=8) as pool:
        for index, count, out in pool.map(parse_with_e, problems):
            assert out.returncode == 0, (index, out.stderr)
            assert "CNFization successful" in out.stdout, index
            parsed = re.search(r"# Parsed axioms\s*:\s*(\d+)", out.stdout)
            assert parsed is not None and int(parsed.group(1)) == count, index


# --- SMT-LIB ------------------------------------------------------------------------------------


def test_smtlib_script_declares_and_names():
    script = smtlib_problem(parse_formulas(["∀x (P(x) → Q(f(x)))", "Rain", "R(mr.smith, b)"]), parse_formula("Q(b)"))
    lines = script.splitlines()
    assert lines[0] == "(set-logic UF)"
    assert lines[1] == "(declare-sort U 0)"
    assert lines[-1] == "(check-sat)"
    assert "(declare-fun |mr.smith| () U)" in lines
    assert "(declare-fun |f| (U) U)" in lines
    assert "(declare-fun |Rain| () Bool)" in lines
    assert "(declare-fun |R| (U U) Bool)" in lines
    assert "(assert (! (forall ((|x| U)) (=> (|P| |x|) (|Q| (|f| |x|)))) :named p0))" in lines
    assert "(assert (! |Rain| :named p1))" in lines
    assert lines[-2] == "(assert (not (|Q| |b|)))"


@pytest.mark.parametrize(
    ("premises", "conclusion"),
    [
        (["∀x (Dog(x) → Animal(x))", "Dog(rex)"], "Animal(rex)"),
        (["∀x (Dog(x) → ¬Cat(x))", "Dog(rex)"], "Cat(rex)"),
        (["∀x (Dog(x) → Animal(x))", "Animal(rex)"], "Dog(rex)"),
        (["P(a)", "¬P(a)"], "Q(b)"),
        (["A ⊕ B", "A ↔ C", "C"], "¬B"),
        (["f(a) = b", "∀x (P(f(x)) ↔ Q(x))", "P(b)"], "Q(a)"),
        (["∃y ∀x Loves(x, y)"], "∀x ∃y Loves(x, y)"),
        (["Risk-averse(mr.smith)", "∀x (Risk-averse(x) → x ≠ gpt-3)"], "mr.smith = gpt-3"),
    ],
)
def test_smtlib_parses_back_and_z3_decides_it_like_the_prover(premises, conclusion):
    ps, c = parse_formulas(premises), parse_formula(conclusion)

    def solve(script):
        ctx = z3.Context()
        assertions = z3.parse_smt2_string(script, ctx=ctx)
        assert len(assertions) == len(ps) + 1
        solver = z3.Solver(ctx=ctx)
        solver.add(assertions)
        return str(solver.check())

    negated = solve(smtlib_problem(ps, c))  # premises ∧ ¬C
    asserted = solve(smtlib_problem(ps, Not(c)))  # premises ∧ ¬¬C
    status = {
        ("unsat", "sat"): "proved",
        ("sat", "unsat"): "disproved",
        ("sat", "sat"): "uncertain",
        ("unsat", "unsat"): "inconsistent",
    }[(negated, asserted)]
    assert status == Z3Prover().prove(ps, c, timeout_s=10).status
