"""Prompt data files (few-shot examples) for the translators."""
