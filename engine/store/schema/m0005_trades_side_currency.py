"""Migration 5: trade direction and currency, lookup indexes for the trades repository.

`side` says whether the trade was opened by selling ('short', the put seller's default) or
buying ('long'); `quantity` stays a positive count. `currency` keeps P&L of trades in
different currencies apart. The indexes serve reconciliation lookups by order and execution.
"""

VERSION = 5
DESCRIPTION = "trades side and currency; records lookup indexes"
SQL = """
ALTER TABLE trades ADD COLUMN side TEXT NOT NULL DEFAULT 'short';
ALTER TABLE trades ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
CREATE INDEX trades_entry_ref ON trades(entry_order_ref);
CREATE INDEX trades_entry_time ON trades(entry_time);
CREATE INDEX trades_exit_time ON trades(exit_time);
CREATE INDEX executions_trade ON executions(trade_id);
CREATE INDEX executions_perm ON executions(perm_id);
CREATE INDEX flex_rows_import ON flex_rows(import_id)
"""
