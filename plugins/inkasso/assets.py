"""The data the daily DAGs hand on to each other, as Airflow Assets (lineage in the UI).

The DAGs keep their clock schedules (a business day must be reproducible for backfills); the
assets show, per run, which DAG produced what the next one reads.
"""

from airflow.sdk import Asset

BANK_PAYMENTS = Asset("inkasso://erp/payments")
CASES = Asset("inkasso://pipeline/cases")
OUTGOING_FILES = Asset("inkasso://files/outgoing")
AGENCY_ANSWERS = Asset("inkasso://files/incoming")
REPORTS = Asset("inkasso://reports/daily")
