"""putdesk engine: IBKR session, selection, execution, records and the simulated gateway.

Never imports Textual or the console (tests/test_import_hygiene.py proves it).
"""
