"""Giving a long pass's memory back: the allocator settings a verified pass makes."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from auditkit.store._memory import give_back_memory, large_buffers_mapped

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

#: In a fresh process (a heap with no large free chunk, which would serve the probe
#: whatever the threshold): free a 16 MiB buffer, which raises glibc's own threshold to
#: 16 MiB, then allocate 8 MiB and print how many bytes that added to the mapped ones.
_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from auditkit.store._memory import _libc, large_buffers_mapped

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = _libc()
    if sys.argv[1] == "set":
        assert large_buffers_mapped()
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = Mallinfo2
    libc.free(libc.malloc(16 << 20))
    before = libc.mallinfo2().hblkhd
    libc.malloc(8 << 20)
    print(libc.mallinfo2().hblkhd - before)
    """
)


def _mapped_by_probe(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not GLIBC, reason="mallopt and malloc_trim are glibc's")
def test_a_large_buffer_is_mapped_even_after_a_larger_one_was_freed() -> None:
    """glibc raises its threshold to the size of each mapped buffer freed, so that the
    next buffers of that size come from the heap, where they stay when freed (a pass
    over 10M events grew from 1.7 to 2.6 GiB); once a verified pass has set it, a
    buffer of 4 MiB or more is mapped, and unmapped when freed, whatever came before."""
    assert _mapped_by_probe("default") == 0
    assert _mapped_by_probe("set") >= 8 << 20
    give_back_memory()


@pytest.mark.skipif(GLIBC, reason="on glibc the threshold is set")
def test_without_glibc_nothing_is_set() -> None:
    assert large_buffers_mapped() is False
    give_back_memory()
