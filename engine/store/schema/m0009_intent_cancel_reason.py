"""Migration 9: why putdesk asked IBKR to cancel an order (kill switch, tier 2, expiry), kept
on its intent until IBKR confirms the cancel, so the cancel's event and row carry that reason
instead of a bare "IBKR reports Cancelled"."""

VERSION = 9
DESCRIPTION = "order_intents cancel_code and cancel_text"
SQL = """
ALTER TABLE order_intents ADD COLUMN cancel_code TEXT;
ALTER TABLE order_intents ADD COLUMN cancel_text TEXT
"""
