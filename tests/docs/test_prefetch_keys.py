"""docs/integration.md §3 lists the prefetch keys, their templates and which hook asks for
which: checked against the services' templates in rules/hooks.py (discovery's source)."""

from __future__ import annotations

import re
from pathlib import Path

from rules.hooks import HOOK_SPECS, ORDER_SIGN

DOC = (Path(__file__).resolve().parents[2] / "docs" / "integration.md").read_text()
SECTION = DOC[DOC.index("## 3. Prefetch") : DOC.index("### Without prefetch")]


def test_the_table_has_every_key_with_its_template() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `(.+?)` \|", SECTION, flags=re.MULTILINE)
    documented = {key: template.replace("\\|", "|") for key, template in rows}
    assert documented == dict(ORDER_SIGN.prefetch)


def test_the_keys_of_each_hook() -> None:
    for spec in HOOK_SPECS:
        line = re.search(rf"^- `{spec.hook}`: (.+?)[;.]$", SECTION, flags=re.MULTILINE | re.DOTALL)
        assert line is not None, f"{spec.hook} is not listed"
        text = line.group(1)
        keys = (
            set(ORDER_SIGN.prefetch) if text == "all of them" else set(re.findall(r"`(\w+)`", text))
        )
        assert keys == set(spec.prefetch), spec.hook
