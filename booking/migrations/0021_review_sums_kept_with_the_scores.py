"""Each review assignment keeps the sums of its scores that a call's ranking adds up, so the
ranking reads one row per reviewer instead of every score with its criterion's weight."""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery, Sum


def store_sums(apps, schema_editor):  # type: ignore[no-untyped-def]
    ReviewAssignment = apps.get_model("booking", "ReviewAssignment")
    ReviewScore = apps.get_model("booking", "ReviewScore")
    scores = ReviewScore.objects.filter(assignment=OuterRef("pk")).order_by().values("assignment")
    ReviewAssignment.objects.filter(pk__in=ReviewScore.objects.values("assignment")).update(
        score_x_weight=Subquery(
            scores.annotate(total=Sum(F("score") * F("criterion__weight"))).values("total")
        ),
        weight_total=Subquery(scores.annotate(total=Sum("criterion__weight")).values("total")),
    )


class Migration(migrations.Migration):
    dependencies = [("booking", "0020_cluster_cancels_commit_with_the_job")]

    operations = [
        migrations.AddField(
            model_name="reviewassignment",
            name="score_x_weight",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="reviewassignment",
            name="weight_total",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(store_sums, migrations.RunPython.noop, elidable=True),
    ]
