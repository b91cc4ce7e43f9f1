"""The FHIR fixtures as package data: `<name>.json` requests and their `<name>.expect.yaml`.

The files in this folder are the source (README.md says how to add or change one); the wheel
and the image carry them, and `rules.fixtures` finds them here with `importlib.resources`.
"""
