"""Energy totals per project (and organisation), month, GPU type, kind and method, made from
the records already written; the reports read these instead of the records."""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Max, Sum

FIGURES = (
    "gpu_hours",
    "it_kwh",
    "facility_kwh",
    "renewable_kwh",
    "emissions_kg",
    "heat_reused_kwh",
    "comparison_emissions_kg",
)
KEY = ("organisation_id", "project_id", "month", "gpu_type_id", "kind", "method")


def totals_from_records(apps, schema_editor):  # type: ignore[no-untyped-def]
    EnergyRecord = apps.get_model("booking", "EnergyRecord")
    EnergyProjectMonthTotal = apps.get_model("booking", "EnergyProjectMonthTotal")
    grouped = (
        EnergyRecord.objects.values(*KEY)
        .annotate(records=Count("pk"), computed_at=Max("computed_at"))
        .annotate(**{name: Sum(name) for name in FIGURES})
        .order_by()
    )
    EnergyProjectMonthTotal.objects.bulk_create(
        (EnergyProjectMonthTotal(**row) for row in grouped.iterator(chunk_size=2000)),
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_time_zone"),
        ("booking", "0021_review_sums_kept_with_the_scores"),
    ]

    operations = [
        migrations.CreateModel(
            name="EnergyProjectMonthTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "gpu_hours",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="GPU-hours",
                    ),
                ),
                (
                    "it_kwh",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="IT energy (kWh)",
                    ),
                ),
                (
                    "facility_kwh",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="facility energy (kWh)",
                    ),
                ),
                (
                    "renewable_kwh",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="renewable energy (kWh)",
                    ),
                ),
                (
                    "emissions_kg",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="emissions (kg CO2e)",
                    ),
                ),
                (
                    "heat_reused_kwh",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="heat reused (kWh)",
                    ),
                ),
                (
                    "comparison_emissions_kg",
                    models.DecimalField(
                        decimal_places=6,
                        default=Decimal("0"),
                        max_digits=20,
                        verbose_name="emissions on the comparison grid (kg CO2e)",
                    ),
                ),
                ("month", models.DateField()),
                (
                    "kind",
                    models.CharField(
                        choices=[("job", "Job"), ("idle", "Booked but idle")], max_length=8
                    ),
                ),
                (
                    "method",
                    models.CharField(
                        choices=[
                            ("measured", "Measured by the cluster"),
                            ("estimated", "Estimated from GPU power"),
                            ("idle", "Idle power of booked nodes"),
                        ],
                        max_length=12,
                    ),
                ),
                ("records", models.PositiveIntegerField(default=0)),
                ("computed_at", models.DateTimeField()),
                (
                    "gpu_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="booking.gputype",
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.organisation",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="booking.project",
                    ),
                ),
            ],
            options={
                "ordering": ("month", "pk"),
                "indexes": [
                    models.Index(fields=["project", "month"], name="energy_total_project_month")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organisation", "month", "project", "gpu_type", "kind", "method"),
                        name="energy_project_month_total_once",
                    )
                ],
            },
        ),
        migrations.RunPython(totals_from_records, migrations.RunPython.noop, elidable=True),
    ]
