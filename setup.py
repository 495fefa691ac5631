"""Builds triage's one compiled module, triage._fast (the metadata is in pyproject.toml)."""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError as exc:  # only without build isolation (pip --no-build-isolation) and no Cython installed
    raise SystemExit(
        "triage needs Cython to build triage._fast (its scoring loops): pip install 'cython>=3.0', "
        "or install without --no-build-isolation so that pip fetches it."
    ) from exc

setup(
    ext_modules=cythonize(
        [Extension("triage._fast", ["triage/_fast.pyx"], extra_compile_args=["-O2"])],
        language_level=3,
    ),
)
