"""Translators: LLM backends and prompts that turn natural language into formal problems.

The backends arrive with the translator issue; this package holds their home.
"""

__all__: list[str] = []
