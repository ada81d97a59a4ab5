"""Migration 10: the scanner's day cache (qualified underlyings, option parameters, each
expiry's listed strikes) kept in the database, so an engine started again on the same day
asks IBKR only for quotes, greeks and margin, as a rescan does."""

VERSION = 10
DESCRIPTION = "selection_day_cache"
SQL = """
CREATE TABLE selection_day_cache (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (day, kind, key)
)
"""
