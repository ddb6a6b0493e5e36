"""LeanReplTestDouble: a stand-in for leanprover-community/repl that speaks its documented JSON protocol.

NOT Lean: it checks nothing. It answers in the message shapes of the REPL's README (requests and
answers separated by blank lines; ``{"cmd", "env"}`` -> ``{"env", "messages", "sorries"}``;
``{"tactic", "proofState"}`` -> ``{"proofState", "goals"}``; ``{"pickleTo", "env"}``;
``{"unpickleEnvFrom"}``; errors as ``{"message"}``) and decides by fixed rules, so that tests can
drive the Lean client and prover through every path:

- a line with ``bogus`` is an error there ("unknown tactic"); ``sorry`` is a warning
  "declaration uses 'sorry'" with a sorry and its proof state;
- ``import`` with an ``env`` is an error (imports only start an environment);
- ``axiom NAME`` declares an axiom; a proof that mentions it depends on it; a proof that mentions
  ``Classical`` depends on ``propext``, ``Classical.choice`` and ``Quot.sound``;
- ``def neurosym_statement : Prop := P`` records P; ``theorem neurosym_check : neurosym_statement
  := @NAME`` succeeds when NAME's recorded statement (``∀ binders, type``) is P, spaces aside;
  after a ``notation`` command every statement is recorded as meaning something else (as a
  notation that redefines a symbol would make it);
- ``#print axioms NAME`` answers as Lean does;
- ``hang`` never answers; ``crash`` exits at once.

Set ``LEAN_DOUBLE_LOG`` to a file to have every request appended to it (one JSON per line).
Run as ``python lean_repl_test_double.py``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

THEOREM = re.compile(r"(?m)^\s*(?:theorem|lemma)\s+([^\s(\[{:]+)")


def split_statement(text: str) -> tuple[str, str, int] | None:
    """(binders, type, end offset) of what follows a theorem's name: split at the top-level ':' and ':='."""
    depth, colon = 0, None
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(":=", i):
            return (text[:colon].strip(), text[colon + 1 : i].strip(), i + 2) if colon is not None else None
        elif depth == 0 and char == ":" and colon is None:
            colon = i
    return None


def norm(text: str) -> str:
    return " ".join(text.replace("(", " ( ").replace(")", " ) ").split())


class Double:
    def __init__(self) -> None:
        self.envs: list[dict] = []
        self.proof_states: list[list[str]] = []

    def new_env(self, base: dict | None) -> int:
        env = {
            "statements": dict(base["statements"]) if base else {},
            "axioms": dict(base["axioms"]) if base else {},
            "axiom_names": set(base["axiom_names"]) if base else set(),
            "spec": base["spec"] if base else None,
        }
        self.envs.append(env)
        return len(self.envs) - 1

    def command(self, request: dict) -> dict:
        cmd, env_id = request["cmd"], request.get("env")
        if env_id is not None and not 0 <= env_id < len(self.envs):
            return {"message": "Unknown environment."}
        if "hang" in cmd:
            time.sleep(3600)
        if "crash" in cmd:
            sys.exit(3)
        messages, sorries = [], []
        if env_id is not None and re.search(r"(?m)^\s*import\s", cmd):
            messages.append(error(1, 0, "invalid 'import' command, it must be used in the beginning of the file"))
        for number, line in enumerate(cmd.splitlines(), start=1):
            if "bogus" in line:
                messages.append(error(number, line.index("bogus"), "unknown tactic"))
            if "sorry" in line:
                self.proof_states.append(["⊢ goal"])
                column = line.index("sorry")
                sorries.append(
                    {
                        "pos": {"line": number, "column": column},
                        "endPos": {"line": number, "column": column + 5},
                        "goal": "⊢ goal",
                        "proofState": len(self.proof_states) - 1,
                    }
                )
                messages.append(
                    {
                        "severity": "warning",
                        "pos": {"line": 1, "column": 0},
                        "endPos": {"line": 1, "column": 7},
                        "data": "declaration uses 'sorry'",
                    }
                )
        new = self.new_env(self.envs[env_id] if env_id is not None else None)
        env = self.envs[new]
        for match in re.finditer(r"(?m)^\s*axiom\s+(\S+)", cmd):
            env["axiom_names"].add(match.group(1))
        spec = re.search(r"def neurosym_statement : Prop := (.*)", cmd)
        if spec:
            env["spec"] = norm(spec.group(1))
        for match in THEOREM.finditer(cmd):
            parts = split_statement(cmd[match.end() :])
            if parts is None:
                continue
            name, (binders, type_, end) = match.group(1), parts
            meaning = norm(f"∀ {binders}, {type_}" if binders else type_)
            env["statements"][name] = meaning + (" (under a notation)" if "notation" in cmd else "")
            body = cmd[match.end() + end :]
            used = {a for a in env["axiom_names"] if re.search(rf"\b{re.escape(a)}\b", body)}
            if "Classical" in body:
                used |= {"propext", "Classical.choice", "Quot.sound"}
            env["axioms"][name] = sorted(used)
        check = re.search(r"theorem neurosym_check : neurosym_statement := @(\S+)", cmd)
        if check:
            target = check.group(1)
            if env["statements"].get(target) != env["spec"]:
                messages.append(error(1, 0, "type mismatch"))
            else:
                env["axioms"]["neurosym_check"] = env["axioms"].get(target, [])
        for match in re.finditer(r"#print axioms (\S+)", cmd):
            name = match.group(1)
            axioms = env["axioms"].get(name)
            if axioms is None:
                messages.append(error(1, 0, f"unknown constant '{name}'"))
            elif axioms:
                messages.append(info(f"'{name}' depends on axioms: [{', '.join(axioms)}]"))
            else:
                messages.append(info(f"'{name}' does not depend on any axioms"))
        answer = {"env": new}
        if messages:
            answer["messages"] = messages
        if sorries:
            answer["sorries"] = sorries
        return answer

    def tactic(self, request: dict) -> dict:
        state = request["proofState"]
        if not 0 <= state < len(self.proof_states):
            return {"message": "Unknown proof state."}
        if "bogus" in request["tactic"]:
            return {"message": "Lean error:\nunknown tactic"}
        closes = request["tactic"].split()[0] in {"rfl", "norm_num", "simp", "linarith", "omega", "ring", "decide"}
        goals = [] if closes else list(self.proof_states[state])
        self.proof_states.append(goals)
        return {"proofState": len(self.proof_states) - 1, "goals": goals}

    def pickle(self, request: dict) -> dict:
        if "env" in request:
            if not 0 <= request["env"] < len(self.envs):
                return {"message": "Unknown environment."}
            env = self.envs[request["env"]]
            data = {**env, "axiom_names": sorted(env["axiom_names"])}
            try:
                with open(request["pickleTo"], "w", encoding="utf-8") as handle:
                    json.dump(data, handle)
            except OSError as exc:
                return {"message": f"could not write {request['pickleTo']}: {exc.strerror}"}
            return {"env": request["env"]}
        return {"message": "Unknown proof State."}

    def unpickle(self, request: dict) -> dict:
        with open(request["unpickleEnvFrom"], encoding="utf-8") as handle:
            data = json.load(handle)
        data["axiom_names"] = set(data["axiom_names"])
        self.envs.append(data)
        return {"env": len(self.envs) - 1}


def error(line: int, column: int, text: str) -> dict:
    return {
        "severity": "error",
        "pos": {"line": line, "column": column},
        "endPos": {"line": line, "column": column + 1},
        "data": text,
    }


def info(text: str) -> dict:
    return {"severity": "info", "pos": {"line": 1, "column": 0}, "endPos": {"line": 1, "column": 1}, "data": text}


def main() -> None:
    double, log = Double(), os.environ.get("LEAN_DOUBLE_LOG")
    block: list[str] = []
    for line in sys.stdin:
        if line.strip():
            block.append(line)
            continue
        if not block:
            continue
        request = json.loads("".join(block))
        block = []
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(request) + "\n")
        if "cmd" in request:
            answer = double.command(request)
        elif "tactic" in request:
            answer = double.tactic(request)
        elif "pickleTo" in request:
            answer = double.pickle(request)
        elif "unpickleEnvFrom" in request:
            answer = double.unpickle(request)
        else:
            answer = {"message": "Could not parse as a valid JSON command"}
        sys.stdout.write(json.dumps(answer, ensure_ascii=False, indent=1) + "\n\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
