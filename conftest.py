"""Collection settings for the whole repository (the tests' fixtures are in tests/conftest.py)."""

# Modules kept only so that old imports keep working for one release: importing them warns, and
# the test suite turns warnings into errors. Their replacements are collected instead.
collect_ignore = [
    "neurosym/checking.py",
    "neurosym/translators/fol.py",
    "neurosym/translators/python.py",
    "neurosym/translators/milp.py",
    "neurosym/sandbox/__init__.py",
    "neurosym/sandbox/escapes.py",
    "neurosym/milp/model.py",
]
