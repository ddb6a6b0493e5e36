"""The built-in benchmarks, one module per family (registered in :mod:`neurosym.bench.registry`).

Example:
    >>> from neurosym.bench.suites.logic import LOGIC_LOOP
    >>> LOGIC_LOOP.data
    ('folio-validation', 'proofwriter-dev')

"""
