import random

import pytest

from neurosym.fol import parse_formula, to_text
from neurosym.fol.syntax import (
    And,
    Const,
    EntailmentProblem,
    Eq,
    Exists,
    Forall,
    Func,
    Iff,
    Implies,
    Not,
    Or,
    Pred,
    Var,
    Xor,
    iter_formulas,
    iter_terms,
)

A, B, C = Pred("A"), Pred("B"), Pred("C")
x, a, b = Var("x"), Const("a"), Const("b")


def P(t):
    return Pred("P", (t,))


@pytest.mark.parametrize(
    "text",
    [
        "∀x (Dog(x) → ∃y (Owner(y, x) ∧ y ≠ x))",
        "∀x (P(x) ∧ Q(x) → R(x) ∨ ¬S(x))",
        "A ∧ B → C",
        "A → B → C",
        "(A → B) → C",
        "A ↔ B ↔ C",
        "(A ↔ B) ↔ C",
        "A ⊕ B ⊕ C",
        "A ⊕ (B ⊕ C)",
        "A ∨ B ∧ C",
        "(A ∨ B) ∧ C",
        "¬(A ∧ B)",
        "¬¬A",
        "a ≠ b",
        "¬a ≠ b",
        "P(x) ∧ ∀x Q(x)",
        "(∀x P(x)) ∧ Q(a)",
        "¬∀x P(x)",
        "¬(∀x P(x)) ∧ Q(a)",
        "A → ∀x P(x)",
        "A → (∀x P(x)) ↔ B",
        "(A → ∀x P(x)) ∨ B",
        "∀x ∃y Loves(x, y)",
        "∀x ¬∃y Loves(x, y)",
        "∃x (P(x) ∧ ∀y (Q(y) → R(x, y)))",
        "P(f(g(a), h(b, c)))",
        "Risk-averse(mr.smith) ⊕ Companies’Stocks(gpt-3)",
        "Rain → Wet",
    ],
)
def test_canonical_text_is_a_fixed_point(text):
    formula = parse_formula(text)
    assert to_text(formula) == text
    assert str(formula) == text
    assert parse_formula(to_text(formula)) == formula


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("all x. (P(x) -> Q(x))", "∀x (P(x) → Q(x))"),
        ("((A) ∧ ((B)))", "A ∧ B"),
        ("∃x,y L(x,y)", "∃x ∃y L(x, y)"),
        ("A ⟷ B.", "A ↔ B"),
        ("a != b", "a ≠ b"),
        ("¬a = b", "a ≠ b"),
        ("¬(a = b)", "a ≠ b"),
        ("¬(a ≠ b)", "¬a ≠ b"),
        ("-(P (a))", "¬P(a)"),
        ("A -> (B -> C)", "A → B → C"),
        ("(A xor B) xor C", "A ⊕ B ⊕ C"),
        ("A ∧ (∀x P(x))", "A ∧ ∀x P(x)"),
        ("∀x (∀y (R(x, y)))", "∀x ∀y R(x, y)"),
    ],
)
def test_printing_drops_redundant_brackets(source, canonical):
    assert to_text(parse_formula(source)) == canonical


def test_hand_built_trees_keep_their_shape():
    assert to_text(And((A, And((B, C))))) == "A ∧ (B ∧ C)"
    assert to_text(Or((Or((A, B)), C))) == "(A ∨ B) ∨ C"
    assert to_text(Implies(Implies(A, B), C)) == "(A → B) → C"
    assert to_text(Xor(A, Xor(B, C))) == "A ⊕ (B ⊕ C)"
    assert to_text(Iff(Iff(A, B), C)) == "(A ↔ B) ↔ C"
    assert to_text(Not(Eq(a, b))) == "a ≠ b"
    assert to_text(And((Forall("x", P(x)), A))) == "(∀x P(x)) ∧ A"
    assert to_text(Implies(Exists("x", P(x)), A)) == "(∃x P(x)) → A"
    assert to_text(Iff(Implies(A, Forall("x", P(x))), B)) == "A → (∀x P(x)) ↔ B"
    for tree in [And((A, And((B, C)))), Or((Or((A, B)), C)), Xor(A, Xor(B, C)), Iff(Iff(A, B), C)]:
        assert parse_formula(to_text(tree)) == tree


# --- random trees: the printer must round-trip every shape -------------------------------------

_CONSTANTS = ("a", "b", "c")
_VARIABLES = ("x", "y", "z")


def _term(rng, bound, depth):
    choice = rng.random()
    if bound and choice < 0.45:
        return Var(rng.choice(sorted(bound)))
    if depth > 0 and choice > 0.8:
        if rng.random() < 0.5:
            return Func("f", (_term(rng, bound, depth - 1),))
        return Func("g", (_term(rng, bound, depth - 1), _term(rng, bound, depth - 1)))
    return Const(rng.choice(_CONSTANTS))


def _formula(rng, bound, depth):
    if depth == 0:
        kind = rng.choice(["prop", "unary", "binary", "eq"])
    else:
        kind = rng.choice(["prop", "unary", "eq", "not", "and", "or", "xor", "implies", "iff", "forall", "exists"])
    if kind == "prop":
        return Pred(rng.choice(["A", "B"]))
    if kind == "unary":
        return Pred("P", (_term(rng, bound, 1),))
    if kind == "binary":
        return Pred("R", (_term(rng, bound, 1), _term(rng, bound, 1)))
    if kind == "eq":
        return Eq(_term(rng, bound, 1), _term(rng, bound, 1))
    if kind == "not":
        return Not(_formula(rng, bound, depth - 1))
    if kind in ("and", "or"):
        items = tuple(_formula(rng, bound, depth - 1) for _ in range(rng.randint(2, 3)))
        return And(items) if kind == "and" else Or(items)
    if kind in ("xor", "implies", "iff"):
        node = {"xor": Xor, "implies": Implies, "iff": Iff}[kind]
        return node(_formula(rng, bound, depth - 1), _formula(rng, bound, depth - 1))
    var = rng.choice(_VARIABLES)
    node = Forall if kind == "forall" else Exists
    return node(var, _formula(rng, bound | {var}, depth - 1))


def test_random_trees_round_trip():
    rng = random.Random(20240601)
    shapes = set()
    for _ in range(2000):
        tree = _formula(rng, frozenset(), rng.randint(1, 5))
        text = to_text(tree)
        assert parse_formula(text) == tree, text
        shapes.add(type(tree))
    assert len(shapes) >= 9  # the generator reached (almost) every node type at the root


# --- traversal ----------------------------------------------------------------------------------


def test_iter_formulas_visits_parents_before_children():
    formula = parse_formula("∀x (P(x) → ¬Q(x) ∧ R)")
    names = [type(g).__name__ for g in iter_formulas(formula)]
    assert names == ["Forall", "Implies", "Pred", "And", "Not", "Pred", "Pred"]


def test_iter_terms_includes_nested_function_arguments():
    formula = parse_formula("∀x (Loves(x, f(g(a), b)) ∧ c = h(x))")
    assert [str(t) for t in iter_terms(formula)] == ["x", "f(g(a), b)", "g(a)", "a", "b", "c", "h(x)", "x"]


def test_nodes_are_hashable_values():
    first, second = parse_formula("∀x (P(x) → Q(x))"), parse_formula("forall x (P(x) -> Q(x))")
    assert first == second and hash(first) == hash(second)
    assert len({first, second, parse_formula("∃x P(x)")}) == 2
    assert str(Func("f", (Var("x"), Const("a")))) == "f(x, a)"


def test_entailment_problem_holds_the_formulas():
    problem = EntailmentProblem((P(a),), P(b))
    assert problem.premises == (P(a),)
    assert problem.conclusion == P(b)
