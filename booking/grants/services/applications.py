"""Applicants' writes: drafts, requests, attachment, submission, withdrawal."""

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, Organisation, User
from booking.models import (
    Application,
    ApplicationRequest,
    ApplicationState,
    ApplicationTeamMember,
    Call,
)
from booking.notifications.services import notify
from stargate_portal.errors import Conflict, Unavailable, ValidationFailed

logger = logging.getLogger(__name__)

EDITABLE = (
    "title",
    "abstract",
    "case_for_support",
    "gpus_per_job",
    "typical_walltime_hours",
    "model_description",
    "model_size_billion_parameters",
    "dataset_provenance",
    "dataset_licence",
    "personal_data",
    "publish_results",
    "publish_weights",
    "publish_code",
    "ai_act_risk",
    "planned_start",
    "planned_end",
)
REQUIRED_TO_SUBMIT = (
    "title",
    "abstract",
    "case_for_support",
    "gpus_per_job",
    "typical_walltime_hours",
    "model_description",
    "dataset_provenance",
    "dataset_licence",
    "ai_act_risk",
    "planned_start",
    "planned_end",
)
WITHDRAWABLE = (ApplicationState.DRAFT, ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)


def application_create(
    *, user: User, call: Call, organisation: Organisation, title: str, **fields: Any
) -> Application:
    """Start a draft for ``call`` on behalf of one of the user's organisations."""
    if not Membership.objects.filter(user=user, organisation=organisation).exists():
        raise ValidationFailed.on_field("organisation", _("Apply for one of your organisations."))
    _check_tier(call, organisation)
    if not call.accepts_submissions():
        raise Conflict(_("This call is not open for applications."), code="call_closed")
    requests = fields.pop("requests", None)
    team = fields.pop("team", None)
    with transaction.atomic():
        application = Application.objects.create(
            call=call, applicant=user, organisation=organisation, title=title.strip()
        )
        return application_update(
            application=application, user=user, requests=requests, team=team, **fields
        )


def application_update(
    *,
    application: Application,
    user: User,
    requests: dict[str, Decimal] | None = None,
    team: list[str] | None = None,
    **fields: Any,
) -> Application:
    """Edit a draft; ``requests`` maps GPU type names to GPU-hours and replaces the old ones."""
    if set(fields) - set(EDITABLE):
        raise ValueError(f"not editable: {sorted(set(fields) - set(EDITABLE))}")
    with transaction.atomic():
        locked = _lock_own(application, user)
        if not locked.is_editable:
            raise Conflict(_("Only drafts can be edited."), code="application_not_editable")
        for field, value in fields.items():
            setattr(locked, field, value)
        _check_dates(locked)
        locked.save()
        if requests is not None:
            _set_requests(locked, requests)
        if team is not None:
            _set_team(locked, team)
    return locked


def application_attach(
    *, application: Application, user: User, upload: UploadedFile
) -> Application:
    """Attach the one PDF of a draft (replacing any earlier one)."""
    _check_pdf(upload)
    with transaction.atomic():
        locked = _lock_own(application, user)
        if not locked.is_editable:
            raise Conflict(_("Only drafts can be edited."), code="application_not_editable")
        old = locked.attachment.name if locked.attachment else ""
        try:
            locked.attachment.save(f"application-{locked.pk}.pdf", upload, save=True)
        except OSError as failure:  # the file store is full, gone or refuses to write
            logger.error("attachment of application %s not stored: %r", locked.pk, failure)
            raise Unavailable(
                _(
                    "The file store cannot take the attachment now; nothing was changed. "
                    "Try again later."
                ),
                code="storage_unavailable",
            ) from failure
    if old and old != locked.attachment.name:
        # robust: a file that cannot be deleted is logged, never fails the upload that replaced it
        transaction.on_commit(lambda: locked.attachment.storage.delete(old), robust=True)
    return locked


def application_submit(*, application: Application, user: User) -> Application:
    """Submit a complete draft before the deadline; it then waits for review."""
    with transaction.atomic():
        locked = _lock_own(application, user)
        if locked.state != ApplicationState.DRAFT:
            raise Conflict(_("Only drafts can be submitted."), code="application_not_editable")
        if not locked.call.accepts_submissions():
            raise Conflict(_("The call is closed: the deadline has passed."), code="call_closed")
        _check_tier(locked.call, locked.organisation)
        _check_complete(locked)
        locked.state = ApplicationState.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["state", "submitted_at", "updated_at"])
        notify(
            users=[user],
            subject=_("Application submitted: %(t)s") % {"t": locked.title},
            body=_("We received your application to %(c)s.") % {"c": locked.call.title},
            url=reverse("grants:application_detail", args=[locked.pk]),
        )
    return locked


def application_withdraw(*, application: Application, user: User) -> Application:
    """Withdraw before a decision."""
    with transaction.atomic():
        locked = _lock_own(application, user)
        if locked.state not in WITHDRAWABLE:
            raise Conflict(_("A decided application cannot be withdrawn."), code="already_decided")
        locked.state = ApplicationState.WITHDRAWN
        locked.save(update_fields=["state", "updated_at"])
    return locked


def _lock_own(application: Application, user: User) -> Application:
    locked = (
        Application.objects.select_for_update(of=("self",))
        .select_related("call", "organisation")
        .get(pk=application.pk)
    )
    if locked.applicant_id != user.pk:
        raise Conflict(_("Only the applicant can change this application."), code="not_applicant")
    return locked


def _check_tier(call: Call, organisation: Organisation) -> None:
    tier = int(organisation.priority_tier())
    if tier not in call.allowed_tiers:
        raise Conflict(
            _("This call is open to tiers %(allowed)s; %(org)s is tier %(tier)s.")
            % {
                "allowed": ", ".join(map(str, call.allowed_tiers)),
                "org": organisation.name,
                "tier": tier,
            },
            code="tier_not_allowed",
        )


def _check_dates(application: Application) -> None:
    start, end = application.planned_start, application.planned_end
    if start and end and end < start:
        raise ValidationFailed.on_field("planned_end", _("The end must not be before the start."))
    if application.gpus_per_job is not None and application.gpus_per_job < 1:
        raise ValidationFailed.on_field("gpus_per_job", _("At least one GPU per job."))


def _set_requests(application: Application, requests: dict[str, Decimal]) -> None:
    offered = {
        p.gpu_type.name: p.gpu_type for p in application.call.pools.select_related("gpu_type")
    }
    errors: dict[str, list[str]] = {}
    if not_offered := sorted(set(requests) - set(offered)):
        errors["requests"] = [_("This call does not offer: %(n)s.") % {"n": ", ".join(not_offered)}]
        raise Conflict(errors["requests"][0], code="gpu_type_not_offered", details=errors)
    amounts = {name: Decimal(h) for name, h in requests.items()}
    if any(h <= 0 for h in amounts.values()):
        raise ValidationFailed.on_field("requests", _("Request a positive number of GPU-hours."))
    total, cap = sum(amounts.values(), Decimal(0)), application.call.max_request_gpu_hours
    if total > cap:
        raise Conflict(
            _("%(total)s GPU-hours requested; this call allows at most %(cap)s per application.")
            % {"total": total, "cap": cap},
            code="request_above_cap",
            details={"requests": [str(total)], "max_request_gpu_hours": str(cap)},
        )
    application.requests.all().delete()
    ApplicationRequest.objects.bulk_create(
        ApplicationRequest(application=application, gpu_type=offered[n], gpu_hours=h)
        for n, h in amounts.items()
    )


def _set_team(application: Application, emails: list[str]) -> None:
    cleaned = sorted({e.strip().lower() for e in emails if e.strip()})
    if bad := [e for e in cleaned if "@" not in e or "." not in e.rsplit("@", 1)[-1]]:
        raise ValidationFailed.on_field("team", _("Not an e-mail: %(e)s.") % {"e": ", ".join(bad)})
    application.team.all().delete()
    ApplicationTeamMember.objects.bulk_create(
        ApplicationTeamMember(application=application, email=e) for e in cleaned
    )


def _check_complete(application: Application) -> None:
    missing = {f: [_("Required to submit.")] for f in REQUIRED_TO_SUBMIT if _empty(application, f)}
    if not application.requests.exists():
        missing["requests"] = [_("Request GPU-hours for at least one GPU type.")]
    if missing:
        raise ValidationFailed(_("The application is incomplete; see details."), details=missing)


def _empty(application: Application, field: str) -> bool:
    value = getattr(application, field)
    return value is None or (isinstance(value, str) and not value.strip())


def _check_pdf(upload: UploadedFile) -> None:
    if upload.size is None or upload.size > settings.APPLICATION_ATTACHMENT_MAX_BYTES:
        raise ValidationFailed.on_field(
            "attachment",
            _("The PDF may be at most %(mb)d MB.")
            % {"mb": settings.APPLICATION_ATTACHMENT_MAX_BYTES // 2**20},
        )
    head = upload.read(5)
    upload.seek(0)
    if head != b"%PDF-" or not (upload.name or "").lower().endswith(".pdf"):
        raise ValidationFailed.on_field("attachment", _("Attach a PDF file."))
