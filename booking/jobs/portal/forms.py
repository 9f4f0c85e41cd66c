"""Portal forms of the jobs: submit a job, filter my jobs. Input shapes only: the rules (GPU
counts, walltime limit, script, budget) live in ``booking.jobs.services.job_submit``."""

import re
import uuid
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from booking.jobs.services import ENV_MAX_VALUE_CHARS, ENV_MAX_VARIABLES
from booking.models import Job, JobState, Project
from stargate_portal.errors import DomainError
from stargate_portal.form_errors import ServiceErrorsForm
from stargate_portal.input_limits import ID_MAX, INT_MAX, column_max_length, whole_number

# Outer bounds, as in the API: job_submit checks the exact limits with its own messages.
SCRIPT_MAX_CHARS = 2 * settings.JOBS_SCRIPT_MAX_BYTES
ENVIRONMENT_MAX_CHARS = 2 * ENV_MAX_VARIABLES * (ENV_MAX_VALUE_CHARS + 256)
_WALLTIME_UNITS = re.compile(r"^(?:(?P<h>\d{1,6})\s*h)?\s*(?:(?P<m>\d{1,7})\s*m(?:in)?)?$")
_WALLTIME_CLOCK = re.compile(r"^(?P<h>\d{1,6}):(?P<m>[0-5]\d)$")
# Refusals without field details, and the input each one is about.
CODE_FIELDS = {
    "not_a_member": "project",
    "project_suspended": "project",
    "no_allocation": "gpu_type",
    "allocation_inactive": "gpu_type",
    "budget_exhausted": "walltime",
    "unknown_booking": "booking",
    "booking_over": "booking",
    "booking_gpu_type_mismatch": "booking",
    "booking_too_small": "gpus",
    "walltime_past_booking": "walltime",
}


def walltime_minutes(text: str) -> int | None:
    """Minutes in "2h", "90m", "1h30m", "1 h 30 min" or "2:30"; None if it is none of them."""
    text = text.strip().lower()
    match = _WALLTIME_CLOCK.match(text) or _WALLTIME_UNITS.match(text)
    if not text or match is None or not any(match.groupdict().values()):
        return None
    return int(match["h"] or 0) * 60 + int(match["m"] or 0)


def environment_lines(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as a dict; blank lines and ``#`` comments are skipped."""
    environment: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not name:
            raise forms.ValidationError(
                gettext("Line %(n)s is not KEY=VALUE: %(line)s") % {"n": number, "line": line}
            )
        if name in environment:
            raise forms.ValidationError(
                gettext("%(name)s is given twice (line %(n)s).") % {"name": name, "n": number}
            )
        environment[name] = value
    return environment


class ProjectChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class JobSubmitForm(ServiceErrorsForm):
    """A job for one of my projects. The idempotency key is made when the form is shown, so a
    double submit (or a reload of the POST) queues the job once."""

    project = ProjectChoiceField(label=_("Project"), queryset=Project.objects.none())
    gpu_type = forms.ChoiceField(
        label=_("GPU type"), help_text=_("The GPU types your project has an allocation for.")
    )
    gpus = forms.IntegerField(label=_("GPUs"), min_value=-INT_MAX, max_value=INT_MAX)
    walltime = forms.CharField(label=_("Walltime"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=column_max_length(Job, "name"))
    script = forms.CharField(
        label=_("Batch script"),
        required=False,
        max_length=SCRIPT_MAX_CHARS,
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 8, "spellcheck": "false", "placeholder": "#!/bin/bash\n"}
        ),
        help_text=_("Starts with an interpreter line such as #!/bin/bash."),
    )
    container_image = forms.CharField(
        label=_("Container image"),
        required=False,
        max_length=column_max_length(Job, "container_image"),
        help_text=_("Instead of a script: an image reference, e.g. nvcr.io/nvidia/pytorch:24.05."),
    )
    command = forms.CharField(
        label=_("Command"),
        required=False,
        max_length=SCRIPT_MAX_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_("What to run in the container."),
    )
    environment = forms.CharField(
        label=_("Environment"),
        required=False,
        max_length=ENVIRONMENT_MAX_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("One KEY=VALUE per line, e.g. EPOCHS=3."),
    )
    strict_order = forms.BooleanField(
        label=_("Strict order"),
        required=False,
        help_text=_(
            "Start only after this project's earlier jobs of the GPU type (e.g. it depends "
            "on them). Otherwise it may start earlier when it fits before a blocked job."
        ),
    )
    booking = forms.IntegerField(
        label=_("Capacity booking"),
        required=False,
        min_value=1,
        max_value=ID_MAX,
        help_text=_(
            "The number of a booking of the project to run in: the job starts only inside its "
            "window, on its nodes, and the booking pays for it."
        ),
    )
    idempotency_key = forms.CharField(max_length=200, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        projects: QuerySet[Project],
        gpu_types: dict[int, list[str]],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", f"portal-{uuid.uuid4()}")
        super().__init__(*args, **kwargs)
        project_field = cast(forms.ModelChoiceField, self.fields["project"])
        project_field.queryset = projects
        project_field.widget.attrs |= {
            "hx-get": reverse("jobs:job_gpu_types"),
            "hx-target": "#gpu-type-field",
            "hx-swap": "outerHTML",
        }
        self.gpu_types = gpu_types
        self.set_gpu_type_choices(self.chosen_project_id())
        maximum = settings.JOBS_MAX_GPUS
        gpus = self.fields["gpus"]
        gpus.widget.attrs |= {"min": 1, "max": maximum}
        gpus.help_text = gettext(
            "Up to the GPUs of one node (8 on most GPU types), or whole nodes up to %(max)s."
        ) % {"max": maximum}
        self.fields["walltime"].help_text = gettext(
            "How long the job may run, e.g. 2h, 90m, 1h30m or 2:30; at most %(h)s h. "
            "It is stopped then."
        ) % {"h": settings.JOBS_MAX_WALLTIME_MINUTES // 60}
        self.error_groups = {"walltime_minutes": ["walltime"]}

    def chosen_project_id(self) -> int | None:
        value = self.data.get(self.add_prefix("project")) if self.is_bound else None
        value = value or self.initial.get("project")
        return whole_number(getattr(value, "pk", value), ID_MAX)

    def set_gpu_type_choices(self, project_id: int | None) -> None:
        """The GPU types of the chosen project (all of my projects' types before a choice)."""
        if project_id in self.gpu_types:
            names = self.gpu_types[project_id]
        else:
            names = sorted({name for names in self.gpu_types.values() for name in names})
        cast(forms.ChoiceField, self.fields["gpu_type"]).choices = [(n, n) for n in names]

    def clean_walltime(self) -> int:
        minutes = walltime_minutes(self.cleaned_data["walltime"])
        if minutes is None:
            raise forms.ValidationError(
                gettext("Write the walltime as 2h, 90m, 1h30m or 2:30."), code="walltime_format"
            )
        return minutes

    def clean_environment(self) -> dict[str, str]:
        return environment_lines(self.cleaned_data["environment"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        project, gpu_type = data.get("project"), data.get("gpu_type")
        if project is not None and gpu_type and gpu_type not in self.gpu_types.get(project.pk, []):
            self.add_error(
                "gpu_type",
                gettext("%(project)s has no allocation for %(gpu)s.")
                % {"project": project.name, "gpu": gpu_type},
            )
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``job_submit`` (without the user)."""
        data = self.cleaned_data
        return {
            "project": data["project"],
            "gpu_type_name": data["gpu_type"],
            "gpus": data["gpus"],
            "walltime_minutes": data["walltime"],
            "name": data["name"],
            "script": data["script"],
            "container_image": data["container_image"],
            "command": data["command"],
            "environment": data["environment"],
            "idempotency_key": data["idempotency_key"],
            "strict_order": data["strict_order"],
            "booking_id": data["booking"],
        }

    def add_service_error(self, error: DomainError) -> None:
        field = CODE_FIELDS.get(error.code)
        if field is not None:
            self.add_error(field, error.message)
            return
        super().add_service_error(error)


class JobFilterForm(forms.Form):
    """My jobs by project, state and GPU type (every filter optional)."""

    project = forms.TypedChoiceField(label=_("Project"), required=False, coerce=int)
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("All states")), *JobState.choices]
    )
    gpu_type = forms.ChoiceField(label=_("GPU type"), required=False)

    def __init__(
        self, *args: Any, projects: list[tuple[int, str]], gpu_types: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["project"]).choices = [
            ("", _("All projects")),
            *projects,
        ]
        cast(forms.ChoiceField, self.fields["gpu_type"]).choices = [
            ("", _("All GPU types")),
            *((name, name) for name in gpu_types),
        ]
