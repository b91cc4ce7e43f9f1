"""The built-in checks, one function per rule id (see `rules.registry`).

Every module in this package is imported by `rules.registry.load_builtin_rules()`, so a new rule
is a new module here plus its entry (texts, indicator, parameters) in a rule set.
"""
