"""Build hook: compile the facts builder and the unit look-ups it calls to C with mypyc (the
rest of the package is plain Python and configured in pyproject.toml).

Building the facts of a call is the service's largest cost; compiled, it is cheaper
(docs/performance.md). The modules stay ordinary, fully typed Python: set
`OPIOID_CDS_PURE_PYTHON=1` to install without compiling (no C compiler needed), and they run
as they are. The hash of each compiled source is recorded, so the service refuses to run a
compiled module whose source changed since (rules/native.py).
"""

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

# Pure functions over parsed JSON; nothing in them is patched or subclassed at run time.
COMPILED_MODULES = [
    "rules/catalogue/units.py",
    "rules/facts/fhir_access.py",
    "rules/facts/quantities.py",
    "rules/facts/medication.py",
    "rules/facts/elements.py",
    "rules/facts/durations.py",
    "rules/facts/exposure.py",
    "rules/facts/reading.py",
    "rules/facts/orders.py",
    "rules/facts/history.py",
    "rules/facts/patient.py",
    "rules/facts/builder.py",
]


def _extensions() -> list[object]:
    if os.environ.get("OPIOID_CDS_PURE_PYTHON", "") in ("1", "true", "yes"):
        return []
    from mypyc.build import mypycify

    hashes = {
        path.removesuffix(".py").replace("/", "."): hashlib.sha256(
            Path(path).read_bytes()
        ).hexdigest()
        for path in COMPILED_MODULES
    }
    record = Path("rules/native_sources.json")
    record.write_text(json.dumps(hashes, indent=1) + "\n")
    try:
        return list(mypycify(COMPILED_MODULES, opt_level="3", group_name="rules.compiled"))
    except BaseException:
        # mypyc refused the sources (a type error): the compiled code in place is older than
        # the record just written, so no record at all, and the guard refuses it.
        record.unlink(missing_ok=True)
        raise


setup(ext_modules=_extensions())
