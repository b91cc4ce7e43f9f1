"""The CDS services this deployment offers, as listed by discovery (one per `rules.hooks` entry)."""

from __future__ import annotations

from typing import Final

from cds_hooks.models import CdsService, Discovery
from rules.hooks import HOOK_SPECS

__all__ = ["DISCOVERY", "SERVICES"]

SERVICES: Final[dict[str, CdsService]] = {
    spec.service_id: CdsService(
        id=spec.service_id,
        hook=spec.hook,
        title=spec.title,
        description=spec.description,
        prefetch=dict(spec.prefetch),
        usage_requirements=spec.usage,
    )
    for spec in HOOK_SPECS
}

DISCOVERY: Final[Discovery] = Discovery(services=list(SERVICES.values()))
