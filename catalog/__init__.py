"""The change-model catalog: standard change templates the practice owner publishes, versions and retires;
standard changes raised from them; and the maturity loop that proposes new ones from closed normal changes.

It sits beside the engine (which knows nothing of it) and runs its commands through ``Engine.run``.
"""

from __future__ import annotations

from catalog.commands import (
    DEFAULT_MIN_SUCCESSES,
    PUBLISH_FORM,
    RAISE_FORM,
    ApproveCandidate,
    PublishTemplate,
    RaiseStandardChange,
    RetireTemplate,
    TemplateContent,
)
from catalog.queries import candidates, list_templates, template_versions
from catalog.views import CandidateView, TemplateView
from catalog.windows import windows_from_lines

__all__ = ["DEFAULT_MIN_SUCCESSES", "PUBLISH_FORM", "RAISE_FORM", "ApproveCandidate", "CandidateView",
           "PublishTemplate", "RaiseStandardChange", "RetireTemplate", "TemplateContent", "TemplateView", "candidates",
           "list_templates", "template_versions", "windows_from_lines"]
