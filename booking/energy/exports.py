"""A report as CSV: one row per month, GPU type and kind, the figures in kWh and kg CO2e."""

from __future__ import annotations

import csv
import io

from booking.energy.estimates import FIGURE_NAMES
from booking.energy.selectors import EnergyReport

CSV_COLUMNS = ("month", "gpu_type", "kind", "records", *FIGURE_NAMES)


def report_csv(report: EnergyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        figures = row.figures.as_dict()
        writer.writerow(
            [f"{row.month:%Y-%m}", row.gpu_type, row.kind, row.records]
            + [str(figures[name]) for name in FIGURE_NAMES]
        )
    return out.getvalue()
