"""The C heap a CPU step is timed on: glibc's malloc kept from page-faulting.

glibc's malloc takes a large block (above its mmap threshold, which moves with every large
free and stops at 32 MiB) from fresh pages that the kernel maps on first touch, and gives
freed memory at the top of its heap back to the kernel beyond a trim threshold that moves
with it. A step's time then depends on what ran before it in the process. Here, B0 at
batch 1 took about 20 ms a step in a fresh process (3,500 page faults a step) and 15 ms
after two larger models (none); B0 at batch 16 took 300-350 ms fresh (100,000-150,000
faults), 380-430 ms after them (160,000-170,000), and 140-200 ms with the heap kept (none).
A latency model calibrated in one process and asked about another was off by as much: 29 %
too fast at the median, all 18 unseen cases on the same side.

So before effnet times anything on the CPU it sets both, once for the process: no block
from mmap, no trim below 2 GiB (mallopt's largest value). After warm-up a step reuses its
pages, as under jemalloc or tcmalloc, onnxruntime's arena or PyTorch's CUDA caching
allocator, and every timing is taken in that one regime, whatever ran before. A user who
chose otherwise (glibc's MALLOC_* variables or malloc tunables, another allocator
preloaded) is left alone, and so is a C library that is not glibc. ``EFFNET_MALLOC=default``
times glibc's default heap instead (``kept`` is the default).
"""

from __future__ import annotations

import ctypes
import functools
import os

from .errors import UsageError

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1
"""mallopt takes an int: the largest trim threshold it can set (2 GiB)."""
KEPT = "kept"
"""effnet set glibc's malloc to keep freed memory: no mmap blocks, no trim."""
USER = "user"
"""The user's own malloc settings or allocator, left as they are."""
DEFAULT = "default"
"""The C library's own behaviour: asked for (EFFNET_MALLOC=default), not glibc, or refused."""
USER_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                  "MALLOC_TOP_PAD_")  # fmt: skip
ASK = "EFFNET_MALLOC"
"""The environment variable that asks for a heap: ``kept`` (the default) or ``default``."""
_state: list[str] = []


def keep_heap() -> str:
    """Keep glibc's heap for the rest of this process (the first call sets it; every call
    says what the timings run on: KEPT, USER or DEFAULT)."""
    if not _state:
        _state.append(_set())
    return _state[0]


def release() -> None:
    """Give the heap's free memory back to the kernel now (glibc's malloc_trim), so that a
    process RSS read next counts only live memory, not what an earlier model left kept."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def user_chose(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Whether the user set glibc's malloc themselves or preloaded another allocator."""
    tunables = "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")
    preloaded = "malloc" in environ.get("LD_PRELOAD", "")
    return tunables or preloaded or any(name in environ for name in USER_VARIABLES)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library where it is glibc (musl's mallopt does nothing); looked up
    once, since ``release`` runs before every model bench prepares."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


def _set() -> str:
    asked = os.environ.get(ASK, KEPT)
    if asked not in (KEPT, DEFAULT):
        raise UsageError(f"{ASK}={asked!r} is not a heap effnet knows: use 'kept' or 'default'")
    if asked == DEFAULT:
        return DEFAULT
    if user_chose():
        return USER
    libc = _glibc()
    if libc is None:
        return DEFAULT
    mmap_off = libc.mallopt(M_MMAP_MAX, 0) == 1
    no_trim = libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1
    return KEPT if mmap_off and no_trim else DEFAULT
