"""Giving the memory of a finished pass back to the system.

A verified pass over millions of records allocates and frees gigabytes in
chunks (Arrow batches, NumPy digests, Python objects with reference cycles).
Once it has ended, CPython's collector has not yet run on the cycles, and glibc's
allocator keeps what was freed in its per-thread arenas: at 10M events, the
process holds about 1.5 GiB it no longer uses, which whatever runs next (the
detectors over the scanned files) adds its own peak to.

During the pass, glibc raises its threshold for serving a request from ``mmap`` each
time a large mapped buffer is freed, so that after the first chunks the buffers of
the database driver (a chunk's columns, hundreds of MB) come from the heap, where
freed memory is kept and fragments: the pass grew from 1.7 to 2.6 GiB over 10M
events.  :func:`large_buffers_mapped` fixes the threshold instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache
from typing import Any

__all__ = ["give_back_memory", "large_buffers_mapped"]

#: ``mallopt``'s parameter number for the mmap threshold (glibc's ``M_MMAP_THRESHOLD``).
_M_MMAP_THRESHOLD = -3
#: Buffers from this size up are mapped and unmapped on their own.
LARGE_BUFFER = 4 << 20


@cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        # glibc (not musl)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def give_back_memory() -> None:
    """Collect reference cycles now and return the allocator's free pages to the system.

    Cheap (tens of milliseconds) next to the pass it follows; a no-op beyond the
    collection where the C library has no ``malloc_trim``.

    >>> give_back_memory()
    """
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def large_buffers_mapped() -> bool:
    """Have the C allocator map every buffer of :data:`LARGE_BUFFER` bytes or more on its
    own, and give it back to the system when freed, for the rest of the process.

    Costs a little system time (the pages of each such buffer are mapped afresh) and
    keeps a long pass's memory where its first chunks put it.  Once per process;
    False where the C library has no ``mallopt``.

    >>> large_buffers_mapped() in (True, False)
    True
    """
    libc = _libc()
    return libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER) == 1
