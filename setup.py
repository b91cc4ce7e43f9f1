"""Build hook: compile the facts builder to C with mypyc (the rest of the package is plain
Python and configured in pyproject.toml).

Building the facts of a call is the service's largest cost; compiled, it takes about 40 %
less time (docs/performance.md). The modules stay ordinary, fully typed Python: set
`OPIOID_CDS_PURE_PYTHON=1` to install without compiling (no C compiler needed), and they run
as they are.
"""

import os

from setuptools import setup

# Pure functions over parsed JSON; nothing in them is patched or subclassed at run time.
COMPILED_MODULES = [
    "rules/facts/fhir_access.py",
    "rules/facts/medication.py",
    "rules/facts/builder.py",
]


def _extensions() -> list[object]:
    if os.environ.get("OPIOID_CDS_PURE_PYTHON", "") in ("1", "true", "yes"):
        return []
    from mypyc.build import mypycify

    return list(mypycify(COMPILED_MODULES, opt_level="3", group_name="rules.compiled"))


setup(ext_modules=_extensions())
