from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class GpuType(models.Model):
    """A GPU model the site offers (H100, H200, GB200 …): data, not code."""

    name = models.CharField(_("name"), max_length=32, unique=True)
    memory_gb = models.PositiveIntegerField(_("memory (GB)"))
    power_watts = models.PositiveIntegerField(_("power (W)"))
    gpus_per_node = models.PositiveSmallIntegerField(_("GPUs per node"), default=8)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(power_watts__gt=0, memory_gb__gt=0, gpus_per_node__gt=0),
                name="gpu_type_positive_figures",
            ),
        ]

    def __str__(self) -> str:
        return self.name
