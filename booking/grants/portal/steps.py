"""The steps of the application form: each saves the draft; the last one submits it."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from booking.grants.portal import forms


@dataclass(frozen=True)
class Step:
    slug: str
    title: str | Promise
    form_class: type[forms.ApplicationStepForm]
    template: str
    fields: tuple[str, ...]  # the application fields this step edits (for "missing" errors)


STEPS = (
    Step(
        "basics",
        _("Basics"),
        forms.BasicsForm,
        "grants/steps/basics.html",
        ("title", "abstract", "case_for_support"),
    ),
    Step(
        "resources",
        _("Resources"),
        forms.ResourcesForm,
        "grants/steps/resources.html",
        ("requests", "gpus_per_job", "typical_walltime_hours", "planned_start", "planned_end"),
    ),
    Step(
        "science",
        _("Model & data"),
        forms.ScienceForm,
        "grants/steps/science.html",
        (
            "model_description",
            "model_size_billion_parameters",
            "dataset_provenance",
            "dataset_licence",
            "ai_act_risk",
        ),
    ),
    Step("team", _("Team & attachment"), forms.TeamForm, "grants/steps/team.html", ("team",)),
)
SUBMIT = "submit"
BY_SLUG = {step.slug: step for step in STEPS}

FIELD_LABELS = {
    "title": _("Title"),
    "abstract": _("Abstract"),
    "case_for_support": _("Case for support"),
    "requests": _("Requested GPU-hours"),
    "gpus_per_job": _("GPUs per job"),
    "typical_walltime_hours": _("Typical walltime"),
    "planned_start": _("Planned start"),
    "planned_end": _("Planned end"),
    "model_description": _("Model description"),
    "model_size_billion_parameters": _("Model size"),
    "dataset_provenance": _("Dataset provenance"),
    "dataset_licence": _("Dataset licence"),
    "ai_act_risk": _("EU AI Act risk category"),
    "team": _("Team"),
    "attachment": _("Attachment"),
}


def step_of(field: str) -> Step | None:
    return next((step for step in STEPS if field in step.fields), None)


def next_slug(slug: str) -> str:
    slugs = [step.slug for step in STEPS]
    position = slugs.index(slug)
    return slugs[position + 1] if position + 1 < len(slugs) else SUBMIT
