"""Reporting on the agreements (docs/reports.md): what the service records of each call, and
the report built from it (`opioid-cds report`, `/reports`).

    records   the rows one evaluated call leaves behind (orders, cards), pseudonymised
    prune     deleting rows older than the retention
    query     reading a period's rows back
    summary   counting them: per region, practice and month, before and after a baseline
    suppress  small-cell suppression ("<5") for what leaves the service as a table or page
    charts    server-side SVG charts (no script, nothing from the internet)
    render    the report as JSON, CSV and HTML
"""
