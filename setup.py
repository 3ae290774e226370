"""Builds the compiled decoder from src/fastsse/_decoder.pyx (metadata is in pyproject.toml).

FASTSSE_NO_EXTENSIONS=1 installs the pure-Python decoder only. Otherwise a failure to
compile fails the install: a user who asked for fastsse must not silently get the slow
decoder.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = bool(os.environ.get("FASTSSE_NO_EXTENSIONS"))
# For the tests: build the scanner's portable search (two memchr calls) even on x86,
# where the SSE2 search is used otherwise (see src/fastsse/_line_end.h).
PORTABLE_SCAN = bool(os.environ.get("FASTSSE_PORTABLE_SCAN"))
# For CI: build with AddressSanitizer and UndefinedBehaviorSanitizer, which then check
# every memory access and every operation the decoder makes (run the tests with libasan
# preloaded; see .ci/run). Never for a release build.
SANITIZE = bool(os.environ.get("FASTSSE_SANITIZE"))
SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
# Keep debug info in the compiled decoder (see release_flags).
DEBUG = bool(os.environ.get("FASTSSE_DEBUG"))
PYX = os.path.join("src", "fastsse", "_decoder.pyx")
HEADERS = [os.path.join("src", "fastsse", "_line_end.h")]

HOW_TO_SKIP = (
    "fastsse could not build its compiled decoder. Install a C compiler and the Python "
    "headers, or set FASTSSE_NO_EXTENSIONS=1 to install the pure-Python decoder "
    "(same behaviour, slower)."
)


class StrictBuildExt(build_ext):
    """build_ext whose failure names the way out."""

    def run(self):
        try:
            super().run()
        except Exception as exc:
            raise SystemExit(f"{HOW_TO_SKIP}\nThe build failed with: {exc}") from exc

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            raise SystemExit(f"{HOW_TO_SKIP}\nCompiling {ext.name} failed with: {exc}") from exc


def release_flags():
    """Compiler and linker flags: optimised and stripped, unless a debug build is asked for.

    Debug info is most of the module's size (about 1.5 MB of 1.6 MB) and helps no one
    who installs a wheel. FASTSSE_DEBUG=1 keeps it, for a debugger or a profiler.
    """
    if sys.platform == "win32":
        return [], []  # MSVC builds release objects and keeps symbols in a separate .pdb
    if DEBUG:
        print("fastsse: a debug build, keeping debug info in the compiled decoder")
        return ["-O3", "-g"], []
    # -s strips the symbol table at link time; Apple's linker has no -s, strip -x does it.
    link = ["-Wl,-x"] if sys.platform == "darwin" else ["-s"]
    return ["-O3", "-g0"], link


def extensions():
    if NO_EXTENSIONS:
        print(
            "*" * 72
            + "\nfastsse: FASTSSE_NO_EXTENSIONS is set, building the pure-Python decoder only\n"
            + "*" * 72
        )
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        raise SystemExit(f"{HOW_TO_SKIP}\nCython is missing: {exc}") from exc
    print("*" * 72 + "\nfastsse: building the compiled decoder (accelerated)\n" + "*" * 72)
    compile_args, link_args = release_flags()
    macros = [("FASTSSE_PORTABLE_SCAN", "1")] if PORTABLE_SCAN else []
    if PORTABLE_SCAN:
        print("fastsse: FASTSSE_PORTABLE_SCAN is set, building the portable line-end search")
    if SANITIZE:
        if sys.platform == "win32":
            raise SystemExit("fastsse: FASTSSE_SANITIZE needs gcc or clang")
        print("fastsse: FASTSSE_SANITIZE is set, building with AddressSanitizer and UBSan")
        # The sanitizers bring their own optimisation and debug flags; none of the release's.
        compile_args = SANITIZER_FLAGS + ["-fno-omit-frame-pointer", "-O1", "-g"]
        link_args = SANITIZER_FLAGS
    return cythonize(
        [
            Extension(
                "fastsse._decoder",
                [PYX],
                depends=HEADERS,
                include_dirs=[os.path.join("src", "fastsse")],
                define_macros=macros,
                extra_compile_args=compile_args,
                extra_link_args=link_args,
            )
        ],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": StrictBuildExt})
