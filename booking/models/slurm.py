"""State the Slurm backend keeps in the database: cancellations Slurm could not take yet."""

from django.db import models


class SlurmCancelRequest(models.Model):
    """A job the platform stopped while Slurm did not answer: cancelled in Slurm as soon as
    it answers again (the next reconcile), then forgotten."""

    key = models.CharField(max_length=100, unique=True)
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("requested_at", "pk")

    def __str__(self) -> str:
        return f"cancel {self.key}"
