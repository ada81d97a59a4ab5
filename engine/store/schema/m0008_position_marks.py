"""Migration 8: the marks of open positions from Flex statements (OpenPositions), kept per
report date: the year-end ones mark Section 1256 contracts to market in the tax report."""

VERSION = 8
DESCRIPTION = "position_marks from Flex OpenPositions"
SQL = """
CREATE TABLE position_marks (
    account_id TEXT NOT NULL,
    report_date TEXT NOT NULL,
    con_id INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    asset_category TEXT,
    currency TEXT,
    position TEXT NOT NULL,
    mark_price TEXT NOT NULL,
    multiplier TEXT NOT NULL,
    import_id INTEGER,
    PRIMARY KEY (account_id, report_date, con_id)
)
"""
