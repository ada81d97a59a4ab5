"""Migration 7: job runs keep their reason code and a small JSON summary beside the text."""

VERSION = 7
DESCRIPTION = "job_runs reason_code and data_json"
SQL = """
ALTER TABLE job_runs ADD COLUMN reason_code TEXT;
ALTER TABLE job_runs ADD COLUMN data_json TEXT;
CREATE INDEX job_runs_day ON job_runs(account_id, session_date)
"""
