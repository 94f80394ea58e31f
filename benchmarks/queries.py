"""Questions the speed benchmarks time, shared so their figures are comparable."""

from __future__ import annotations

QUERIES = [
    "does feedback improve attainment in primary schools",
    "cost per pupil of tutoring",
    "grouping children by learning level instead of grade",
    "how can parents be engaged to improve attendance",
    "coaching teachers versus one-off training",
    "what data do district assessments give on early reading",
]
