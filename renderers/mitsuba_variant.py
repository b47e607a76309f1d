"""Choosing a Mitsuba 3 variant this machine can run, without crashing the process.

Mitsuba's LLVM variants JIT-compile through libLLVM. With libLLVM 15 or 16 the process
aborts (uncatchably) at the first render, with 14 ``set_variant`` raises; only >= 17 works.
So the version is read from the library file before any variant is chosen, and the
library found is handed to Dr.Jit through ``DRJIT_LIBLLVM_PATH`` so that it cannot pick an
older one that happens to come first on the search path.

Order: ``cuda_ad_rgb`` when an NVIDIA GPU is usable, else ``llvm_ad_rgb`` when libLLVM >= 17
is found, else ``scalar_rgb``. ``MCDENOISE_MITSUBA_VARIANT`` (or an explicit request) wins.
"""
from __future__ import annotations

import ctypes
import glob
import os
import re
import sys

ENV_VARIANT = "MCDENOISE_MITSUBA_VARIANT"
MIN_LLVM_MAJOR = 17

_LLVM_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/usr/local/lib", "/usr/lib/llvm-*/lib", "/opt/homebrew/opt/llvm/lib", "/usr/local/opt/llvm/lib",
)
_LLVM_NAME = re.compile(r"libLLVM(?:-(\d+)(?:\.\d+)*)?\.(?:so|dylib)(?:\.(\d+)(?:\.\d+)*)?$")


def llvm_version_from_name(path: str) -> int | None:
    """Major version encoded in a libLLVM file name (libLLVM-15.so.1, libLLVM.so.19.1), or None."""
    match = _LLVM_NAME.search(os.path.basename(path))
    if not match:
        return None
    major = match.group(1) or match.group(2)
    return int(major) if major else None


def find_libllvm() -> tuple[str, int] | None:
    """The newest libLLVM on this machine as (path, major version), or None.

    ``DRJIT_LIBLLVM_PATH`` set by the user is honoured when its version can be read.
    """
    user = os.environ.get("DRJIT_LIBLLVM_PATH")
    if user and os.path.exists(user):
        version = llvm_version_from_name(os.path.realpath(user)) or llvm_version_from_name(user)
        if version is not None:
            return user, version
    dirs = [d for pattern in _LLVM_DIRS for d in glob.glob(pattern)]
    dirs += [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    found: list[tuple[int, str]] = []
    for directory in dirs:
        for path in glob.glob(os.path.join(directory, "libLLVM*")):
            version = llvm_version_from_name(path)
            if version is not None:
                found.append((version, path))
    if not found:
        return None
    version, path = max(found)
    return path, version


def cuda_usable() -> bool:
    """True when the CUDA driver loads and reports at least one device."""
    if sys.platform == "darwin":
        return False
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def choose_variant(requested: str | None = None) -> str:
    """Name of the Mitsuba variant to use; sets DRJIT_LIBLLVM_PATH when choosing LLVM."""
    requested = requested or os.environ.get(ENV_VARIANT)
    llvm = find_libllvm()
    if requested:
        if requested.startswith("llvm_") and llvm is not None:
            os.environ["DRJIT_LIBLLVM_PATH"] = llvm[0]
        return requested
    if cuda_usable():
        return "cuda_ad_rgb"
    if llvm is not None and llvm[1] >= MIN_LLVM_MAJOR:
        os.environ["DRJIT_LIBLLVM_PATH"] = llvm[0]
        return "llvm_ad_rgb"
    return "scalar_rgb"


def describe() -> str:
    """One line for logs and `--help`: what was found and what would be chosen."""
    llvm = find_libllvm()
    found = f"libLLVM {llvm[1]} at {llvm[0]}" if llvm else "no libLLVM"
    return f"{found}; CUDA {'usable' if cuda_usable() else 'not usable'}; variant {choose_variant()}"
