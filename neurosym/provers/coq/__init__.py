r"""Coq (Rocq) as a proof kernel: a jailed, long-lived ``coqidetop`` that checks model-written proof scripts.

- :mod:`~neurosym.provers.coq.kernel`: :class:`CoqKernel`, the process (its jail in
  :mod:`~neurosym.provers.coq.jail`), fed sentence by sentence with the goals after each step and
  each error with its place;
- :mod:`~neurosym.provers.coq.sentences`: scripts cut into sentences as Coq reads them;
- :mod:`~neurosym.provers.coq.policy`: the commands refused before checking;
- :mod:`~neurosym.provers.coq.prover`: :class:`CoqProver`, what *verified* means (the whole
  file accepted, the statement as given, the assumptions within :data:`STANDARD_AXIOMS`) and the
  certificate :class:`CoqProof`;
- :mod:`~neurosym.provers.coq.portfolio`: automation tactics (``lia``, ``nra``, ``field``...) tried
  before any model call.

Example:
    >>> from neurosym.types import Formalization
    >>> task = CoqTask("Lemma l : forall n : nat, n + 0 = n.\nProof. induction n; simpl; auto. Qed.")
    >>> CoqProver().check(Formalization("coq", task.source, task), timeout_s=60).status
    'proved'

"""

from __future__ import annotations

from neurosym.provers.coq.jail import KernelLimits
from neurosym.provers.coq.kernel import CoqKernel, Goal, KernelError, KernelRun, Step, coq_version
from neurosym.provers.coq.policy import Refusal, refusals
from neurosym.provers.coq.prover import (
    STANDARD_AXIOMS,
    CoqProof,
    CoqProver,
    CoqTask,
    StatementCheck,
    check_statement,
    default_kernel,
    kernel_problem,
    parse_assumptions,
)
from neurosym.provers.coq.sentences import Sentence, parse_theorem, split_sentences

__all__ = [
    "STANDARD_AXIOMS",
    "CoqKernel",
    "CoqProof",
    "CoqProver",
    "CoqTask",
    "Goal",
    "KernelError",
    "KernelLimits",
    "KernelRun",
    "Refusal",
    "Sentence",
    "StatementCheck",
    "Step",
    "check_statement",
    "coq_version",
    "default_kernel",
    "kernel_problem",
    "parse_assumptions",
    "parse_theorem",
    "refusals",
    "split_sentences",
]
