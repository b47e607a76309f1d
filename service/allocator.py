"""glibc malloc settings for a long-running inference process.

torch allocates every activation of a forward pass anew. With glibc's defaults, a buffer
above the dynamic mmap threshold is mapped and unmapped on each use, freed memory is trimmed
back to the kernel, and each thread allocates from an arena of its own whose sub-heaps are
unmapped as soon as they are empty. So every denoise page-faults its activations in again,
and in the service, where frames are decoded on one thread, denoised on another and encoded
on a third, no thread reuses what another freed. Measured on 512x512 frames (width-16 model):
83k minor page faults per request and about 28 % more CPU than the same work done directly;
with the settings below, 21k faults and the same CPU as the direct path
(benchmarks/results/service.md).

The settings: buffers up to 32 MiB come from the heap (the most glibc allows), up to 512 MiB
of freed memory stays with the process, and all threads share the main arena (the service's
threads allocate few, large blocks, so they hardly contend for its lock). The price: resident
memory stays near its peak instead of falling between requests.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("mcdenoise.service")

M_TRIM_THRESHOLD = -1  # option numbers from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for it on 64-bit systems
TRIM_THRESHOLD = 512 * 1024 * 1024
ARENA_MAX = 1


def tune_allocator() -> bool:
    """Apply the settings above to this process (glibc only); True when they took effect.

    Call it early, before the service's threads start (a thread keeps the arena it first
    allocated from). Elsewhere (musl, macOS) it does nothing and returns False.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    done = all(mallopt(option, value) for option, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_ARENA_MAX, ARENA_MAX)))
    log.debug("glibc malloc settings applied: %s", done)
    return done
