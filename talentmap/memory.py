"""Give freed memory back to the operating system between the big steps of a command.

Arrow's default pool (mimalloc or jemalloc) and glibc's malloc keep freed pages for
reuse. Between tables of an ingest that reuse rarely comes, and the kept pages add up to
gigabytes of resident memory at one million organisations (issue 10: 8 GB per command).
Both allocators have a documented call to hand unused pages back; this module calls them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import pyarrow as pa


def release_unused_memory() -> None:
    """Return the free pages of Arrow's pool and of glibc's heap to the system."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
