"""Importers: turn a real source into a contract directory, with a report of every change.

One module per kind of source (``crunchbase2013``, ``crunchbase_csv``, ``sirene``,
``mapping``) and shared pieces: ``reading`` (streaming files), ``normalise`` and
``value_maps`` (what values become), ``writing`` (contract rules and the writer) and
``report``. This package is part of the ground layer: it reads the contract and nothing
above it. Mapping documents live in ``data/importers/<kind>.md``.
"""
