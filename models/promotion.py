"""Moving a registered version between environments by alias.

The promotion gate (train, retrain, `smartpay promote <model>`) is the only way to
`@champion`, the alias dev serves. Each later environment names in its file
(`smartpay/envs/<env>.yaml`, section `release`) the alias it serves and the alias it
takes its version from: staging takes dev's champion, prod takes staging's version and
only with an approval, which is kept on the version as tags (who, when, why). A refused
promotion changes nothing: every check runs before the first write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from models.registry import MlflowRegistry
from smartpay.errors import SmartPayError
from smartpay.settings import ReleaseSettings


class PromotionRefused(SmartPayError):
    """A promotion that may not happen; the message says what would let it."""


@dataclass(frozen=True)
class Approval:
    """A person's explicit go for a promotion."""

    by: str
    reason: str


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check(model: str, target: str, release: ReleaseSettings,
           approval: Approval | None) -> None:
    if not release.promote_from:
        raise PromotionRefused(f"{model}@{release.alias} in {target} is moved only by "
                               f"the promotion gate (`smartpay promote` without --to)")
    if release.approval_required and (approval is None or not approval.by.strip()
                                      or not approval.reason.strip()):
        raise PromotionRefused(f"promoting {model}@{release.promote_from} to {target} "
                               "needs an approval: pass --approved-by NAME --reason TEXT")


def approval_tags(target: str, approval: Approval | None, source: str,
                  now: str) -> dict[str, str]:
    """The tags a promotion into `target` leaves on the version."""
    tags = {f"promotion.{target}.at": now, f"promotion.{target}.from": source}
    if approval is not None:
        tags |= {f"approval.{target}.by": approval.by,
                 f"approval.{target}.at": now,
                 f"approval.{target}.reason": approval.reason[:4900]}
    return tags


def promote_to(reg: MlflowRegistry, target: str, release: ReleaseSettings,
               approval: Approval | None = None) -> str:
    """Point `target`'s alias at the version behind its source alias; that version."""
    _check(reg.model_name, target, release, approval)
    version = reg.version_for_alias(release.promote_from)
    if version is None:
        raise PromotionRefused(f"no {reg.model_name}@{release.promote_from} to promote "
                               f"to {target}")
    tags = approval_tags(target, approval, f"@{release.promote_from}", _utc_now())
    for key, value in tags.items():
        reg.client.set_model_version_tag(reg.model_name, version, key, value)
    reg.set_alias(release.alias, version)
    return version
