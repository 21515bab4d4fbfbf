"""Build the C extensions of session_core.

Metadata lives in pyproject.toml; this file only declares the extensions.

Switches (environment variables):
  SESSION_CORE_NO_EXTENSIONS=1  build a pure-Python package (no C at all)
  SESSION_CORE_DEBUG=1          compile C with -O0 -g and assertions (default: -O3 -g0, no
                                debug info in the shipped .so files)
"""

import os
import sys

from setuptools import Extension, setup

NO_EXTENSIONS = os.environ.get("SESSION_CORE_NO_EXTENSIONS", "") not in ("", "0")
DEBUG = os.environ.get("SESSION_CORE_DEBUG", "") not in ("", "0")

# One entry per accelerated core: module name -> C sources (paths relative to this file).
# Each ISA-specific file carries its own target pragma, so no global -mavx2 leaks elsewhere.
EXTENSIONS = {
    "session_core.pow._pow_c": [
        "session_core/pow/_pow_c.pyx",
        "csrc/sha512.c",
        "csrc/pow_ctx.c",
        "csrc/pow_search.c",
        "csrc/pow_dispatch.c",
        "csrc/pow_portable.c",
        "csrc/pow_avx2.c",
        "csrc/pow_avx512.c",
        "csrc/pow_neon.c",
        "csrc/pow_sha512ce.c",
        "csrc/pow_baselines.c",
    ],
    "session_core.swarm._swarm_c": [
        "session_core/swarm/_swarm_c.pyx",
        "csrc/swarm.c",
        "csrc/swarm_baselines.c",
    ],
    "session_core.onion._onion_c": [
        "session_core/onion/_onion_c.pyx",
        "csrc/onion.c",
        "csrc/onion_json.c",
        "csrc/sodium_loader.c",
    ],
    # The node's onion relay engine: peels with the same onion.c, on pyzmq's own libzmq.
    "session_core.node._relay_c": [
        "session_core/node/_relay_c.pyx",
        "csrc/relay.c",
        "csrc/zmq_loader.c",
        "csrc/onion.c",
        "csrc/onion_json.c",
        "csrc/sodium_loader.c",
    ],
}


def c_flags() -> list[str]:
    if sys.platform == "win32":
        return ["/O2"]
    flags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-function", "-fno-strict-aliasing"]
    # Release: -g0 overrides the -g that CPython's own CFLAGS add, so the .so files carry no
    # debug info (a wheel of about 1 MB instead of 2.6 MB); SESSION_CORE_DEBUG=1 keeps it.
    flags += ["-O0", "-g", "-UNDEBUG"] if DEBUG else ["-O3", "-g0"]
    return flags


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        print("session_core: SESSION_CORE_NO_EXTENSIONS set, building pure Python only")
        return []
    from Cython.Build import cythonize

    exts = [
        Extension(
            name,
            sources=sources,
            include_dirs=["csrc"],
            extra_compile_args=c_flags(),
            libraries=[] if sys.platform == "win32" else ["pthread"],
        )
        for name, sources in EXTENSIONS.items()
    ]
    print(f"session_core: building C extensions {sorted(EXTENSIONS)} ({'debug' if DEBUG else 'release'})")
    return cythonize(
        exts,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )


setup(ext_modules=extensions())
