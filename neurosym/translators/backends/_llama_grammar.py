"""Faster grammar-constrained sampling for llama-cpp-python: check the likeliest tokens first.

llama-cpp-python puts llama.cpp's grammar sampler in front of the sampler chain, so at every step
the grammar is matched against the whole vocabulary (151,646 tokens for Qwen2.5). On 2 CPU cores
that took 100-170 ms per token, more than the model's own forward pass. llama.cpp's own
``common_sampler`` avoids it the same way this module does: take the ``k`` likeliest tokens,
let the grammar reject among those only, and fall back to the whole vocabulary when it rejects all
of them.

For greedy decoding the result is the same token: the best token the grammar allows is among the
``k`` best overall whenever any allowed token is. For sampling, allowed tokens ranked below ``k``
overall are dropped unless no allowed token ranks above them; with ``k`` = 64 and top-k 40 and
min-p 0.05 after it, those tokens had (almost) no chance anyway.

The sampler goes in through :func:`install`, which wraps the ``Llama`` object's ``_init_sampler``
(a private method of llama-cpp-python, so the wrapper checks it and leaves a ``Llama`` it does not
recognise alone). Only the default sampling path is changed; mirostat and ``logits_processor``
keep llama-cpp-python's own chain.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import numpy as np

__all__ = ["TOP_K", "install"]

logger = logging.getLogger(__name__)

TOP_K = 64
"""How many of the likeliest tokens the grammar sees first."""

_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


class TopKGrammarSampler:
    """A llama.cpp sampler (``llama_sampler``) that applies a GBNF grammar to the top ``k`` tokens first."""

    def __init__(self, lib: Any, vocab: Any, grammar_text: str, root: str, k: int = TOP_K) -> None:
        self._lib = lib
        self.grammar = lib.llama_sampler_init_grammar(vocab, grammar_text.encode("utf-8"), root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        if ctypes.sizeof(lib.llama_token_data) != _TOKEN_DATA.itemsize:
            raise ValueError("unexpected llama_token_data layout")
        self.k = k
        self.fallbacks = 0
        self.steps = 0
        self._small = (lib.llama_token_data * k)()
        self._small_view = np.frombuffer(self._small, dtype=_TOKEN_DATA)
        self._small_array = lib.llama_token_data_array(self._small, k, -1, False)
        # ctypes callbacks must outlive the sampler: keep them on the instance.
        self._callbacks = (
            lib.llama_sampler_i_apply(self._apply),
            lib.llama_sampler_i_accept(self._accept),
            lib.llama_sampler_i_reset(self._reset),
        )
        iface = lib.llama_sampler_i()
        iface.name = lib.llama_sampler_i_name(0)
        iface.apply, iface.accept, iface.reset = self._callbacks
        iface.clone = lib.llama_sampler_i_clone(0)
        iface.free = lib.llama_sampler_i_free(0)
        self._iface = iface
        self.sampler = lib.llama_sampler()
        self.sampler.iface = ctypes.pointer(iface)
        self.sampler.ctx = None

    def _apply(self, _sampler: Any, cur_p: Any) -> None:
        self.steps += 1
        array = cur_p.contents
        n = int(array.size)
        k = min(self.k, n)
        buffer = (ctypes.c_char * (n * _TOKEN_DATA.itemsize)).from_address(ctypes.addressof(array.data.contents))
        view = np.frombuffer(memoryview(buffer), dtype=_TOKEN_DATA)  # a writable view of llama.cpp's own array
        top = np.argpartition(view["logit"], n - k)[n - k :] if k < n else np.arange(n)
        small = self._small_view[:k]
        small[:] = view[top]
        self._small_array.size, self._small_array.selected, self._small_array.sorted = k, -1, False
        self._lib.llama_sampler_apply(self.grammar, ctypes.byref(self._small_array))
        if np.isfinite(small["logit"]).any():
            view[:k] = small
            array.size, array.selected, array.sorted = k, -1, False
        else:  # none of the likeliest tokens fits: let the grammar see everything
            self.fallbacks += 1
            self._lib.llama_sampler_apply(self.grammar, cur_p)

    def _accept(self, _sampler: Any, token: int) -> None:
        self._lib.llama_sampler_accept(self.grammar, token)

    def _reset(self, _sampler: Any) -> None:
        self._lib.llama_sampler_reset(self.grammar)

    def pointer(self) -> Any:
        """The ``llama_sampler *`` to add to a chain."""
        return ctypes.pointer(self.sampler)

    def __del__(self) -> None:
        grammar, self.grammar = getattr(self, "grammar", None), None
        if grammar:
            self._lib.llama_sampler_free(grammar)


def install(llm: Any, k: int = TOP_K) -> bool:
    """Make ``llm`` (a ``llama_cpp.Llama``) check grammars against the top ``k`` tokens first.

    Returns False, changing nothing, when the ``Llama`` does not look like the llama-cpp-python this
    was written for.

    Example:
        >>> class NotALlama: pass
        >>> install(NotALlama())
        False

    """
    try:
        import llama_cpp
        from llama_cpp import _internals
    except ImportError:
        return False
    original = getattr(llm, "_init_sampler", None)
    needed = ("llama_sampler_chain_remove", "llama_sampler_chain_n", "llama_sampler_chain_add", "llama_sampler_i")
    if original is None or not all(hasattr(llama_cpp, name) for name in needed) or not hasattr(llm, "_model"):
        return False

    def init_sampler(*args: Any, grammar: Any = None, logits_processor: Any = None, **kwargs: Any) -> Any:
        if grammar is None or logits_processor is not None or kwargs.get("mirostat_mode", 0) != 0 or args:
            return original(*args, grammar=grammar, logits_processor=logits_processor, **kwargs)
        rest = original(grammar=None, logits_processor=None, **kwargs)
        chain = _internals.LlamaSampler()
        ours = TopKGrammarSampler(llama_cpp, llm._model.vocab, grammar._grammar, grammar._root, k)
        llama_cpp.llama_sampler_chain_add(chain.sampler, ours.pointer())
        # Removed from the chain before it is freed; the chain reads only the index and keeps ours alive.
        chain.custom_samplers.append((0, ours))  # type: ignore[arg-type]  # not a CustomSampler, used as one
        # Move llama-cpp-python's samplers (penalties, top-k ..., dist or greedy) behind ours.
        while llama_cpp.llama_sampler_chain_n(rest.sampler) > 0:
            llama_cpp.llama_sampler_chain_add(chain.sampler, llama_cpp.llama_sampler_chain_remove(rest.sampler, 0))
        return chain

    llm._init_sampler = init_sampler
    return True
