"""The installed llama.cpp is the portable build: no AVX-512 or AMX code, and batched decoding works.

A native build on a CPU with AVX-512 and AMX crashes in llama.cpp's decode as soon as a batch
holds more than one token; ``scripts/build-llama-wheel`` builds for a fixed CPU level instead.
These tests check the library that is installed, whatever CPU runs them: the instruction scan
finds AVX-512 code even on a machine that could not execute it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install 'neurosym-toolkit[embedded]')"
)

BUILD_RECORD = Path(sys.prefix) / "neurosym-llama-build.json"
# Registers only AVX-512 (zmm, opmask k1-k7) and AMX (tmm) code uses.
WIDE_REGISTERS = re.compile(r"%zmm\d+|%k[1-7]\b|%tmm\d")
# What each build level of scripts/build-llama-wheel compiles in (llama.cpp's system-info names).
LEVEL_FEATURES = {
    "avx2": {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"},
    "sse42": {"SSE3", "SSSE3"},
}
NEVER = {"AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI", "AMX_INT8"}


def _libraries() -> list[Path]:
    folder = Path(llama_cpp.__file__).parent / "lib"
    found = sorted(p for p in folder.glob("lib*.so*") if p.is_file())
    assert found, f"no shared libraries under {folder}"
    return found


def _features() -> dict[str, bool]:
    info = llama_cpp.llama_print_system_info().decode()
    return {name: value == "1" for name, value in re.findall(r"([A-Z0-9_]+) = ([01])", info)}


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads ELF shared libraries")
def test_the_library_holds_no_avx512_or_amx_instructions():
    for library in _libraries():
        disassembly = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True, check=True
        ).stdout
        wide = WIDE_REGISTERS.findall(disassembly)
        assert not wide, f"{library.name} uses AVX-512/AMX registers ({len(wide)}x, e.g. {wide[:3]}): a native build?"


def test_the_library_reports_the_features_it_was_built_for():
    features = _features()
    assert features, "llama_print_system_info reported no CPU features"
    assert not {name for name in NEVER if features.get(name)}, features
    if not BUILD_RECORD.is_file():
        pytest.skip(f"llama-cpp-python was not installed by scripts/install (no {BUILD_RECORD})")
    record = json.loads(BUILD_RECORD.read_text(encoding="utf-8"))
    assert record["version"] == llama_cpp.__version__
    assert "-DGGML_NATIVE=OFF" in record["cmake_args"]
    expected = LEVEL_FEATURES.get(record["level"])
    if expected is not None:
        reported = {name for name, on in features.items() if on and name in LEVEL_FEATURES["avx2"] | NEVER}
        assert reported == expected, f"built for {record['level']}, reports {sorted(reported)}"


BATCHED_DECODE = textwrap.dedent(
    """
    import sys
    from llama_cpp import Llama
    from neurosym.translators.models import ensure_model

    path = str(ensure_model("small", progress=False))
    prompt = "All dogs are animals. All animals need water. Rex is a dog. Therefore Rex needs" * 5
    choices = []
    for n_batch in (1, 8, 64):
        llm = Llama(model_path=path, n_ctx=1024, n_batch=n_batch, n_threads=2, logits_all=True, verbose=False)
        tokens = llm.tokenize(prompt.encode())
        llm.eval(tokens)  # the prompt, n_batch tokens per decode call
        logits = llm.scores[len(tokens) - 1]
        choices.append(int(logits.argmax()))
        del llm
    print(len(tokens), *choices)
    """
)


@pytest.mark.llm
def test_batched_prompts_decode_without_crashing():
    try:
        from neurosym.translators.models import ensure_model

        ensure_model("small", progress=False)
    except Exception as exc:
        pytest.skip(f"the small embedded model is not installed: {exc}")
    run = subprocess.run([sys.executable, "-c", BATCHED_DECODE], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (
        f"llama.cpp died decoding a batched prompt (exit {run.returncode}); rebuild it with "
        f"scripts/build-llama-wheel. stderr: {run.stderr[-2000:]}"
    )
    prompt_tokens, *choices = (int(x) for x in run.stdout.split())
    assert prompt_tokens > 64  # batches of 8 and 64 really held several tokens
    assert len(set(choices)) == 1, f"the next token differs by batch size: {choices}"
