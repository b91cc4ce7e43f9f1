"""The FHIR fixtures as package data: `<name>.json` requests and their `<name>.expect.yaml`.

The files in this folder are the source (README.md says how to add or change one); the wheel
and the image carry them, and `rules.fixtures` finds them here with `importlib.resources`.
`fhir_fixtures.builders` writes FHIR test data in code, for the tests, the benchmarks and the
start-up warm-up.
"""
