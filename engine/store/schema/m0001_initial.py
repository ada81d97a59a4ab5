"""Migration 1: the initial schema (every table of issue 2)."""

VERSION = 1
DESCRIPTION = "initial schema"
SQL = """
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('paper', 'live', 'simulated')),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);

CREATE TABLE config_snapshots (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'main',
    sha256 TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, sha256)
);

CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    source TEXT NOT NULL DEFAULT 'watchlist',
    symbols_total INTEGER NOT NULL DEFAULT 0,
    symbols_done INTEGER NOT NULL DEFAULT 0,
    stale INTEGER NOT NULL DEFAULT 0,
    config_snapshot_id INTEGER REFERENCES config_snapshots(id),
    ai_status TEXT,
    ai_reason TEXT,
    messages_sent INTEGER,
    summary_json TEXT
);

CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    symbol TEXT NOT NULL,
    sector TEXT,
    status TEXT NOT NULL,
    reason_code TEXT,
    reason_text TEXT,
    underlying_price REAL,
    con_id INTEGER,
    expiry TEXT,
    dte INTEGER,
    strike TEXT,
    bid TEXT,
    ask TEXT,
    mid TEXT,
    iv REAL,
    delta REAL,
    gamma REAL,
    theta REAL,
    vega REAL,
    otm_pct REAL,
    volume INTEGER,
    open_interest INTEGER,
    margin TEXT,
    return_on_margin REAL,
    score REAL,
    score_safety REAL,
    score_liquidity REAL,
    score_ai REAL,
    score_efficiency REAL,
    ai_score REAL,
    ai_reason TEXT,
    market_data_type INTEGER,
    quote_time TEXT,
    stale INTEGER NOT NULL DEFAULT 0,
    data_flags TEXT,
    rejections_json TEXT
);
CREATE INDEX candidates_scan ON candidates(scan_id);

CREATE TABLE lineup (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    scan_id INTEGER REFERENCES scans(id),
    candidate_id INTEGER REFERENCES candidates(id),
    config_snapshot_id INTEGER REFERENCES config_snapshots(id),
    symbol TEXT NOT NULL,
    sector TEXT,
    con_id INTEGER,
    expiry TEXT NOT NULL,
    strike TEXT NOT NULL,
    right TEXT NOT NULL DEFAULT 'P',
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    limit_price TEXT,
    premium TEXT,
    margin_per_contract TEXT,
    underlying_price REAL,
    otm_pct REAL,
    status TEXT NOT NULL DEFAULT 'staged',
    stale INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    approved_at TEXT,
    reason_code TEXT,
    reason_text TEXT,
    selection_json TEXT
);
CREATE INDEX lineup_status ON lineup(account_id, status);

CREATE TABLE order_intents (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    order_ref TEXT NOT NULL UNIQUE,
    lineup_id INTEGER REFERENCES lineup(id),
    trade_id INTEGER,
    purpose TEXT NOT NULL,
    symbol TEXT NOT NULL,
    con_id INTEGER,
    sec_type TEXT NOT NULL DEFAULT 'OPT',
    expiry TEXT,
    strike TEXT,
    right TEXT,
    action TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    limit_price TEXT,
    aux_price TEXT,
    tif TEXT NOT NULL DEFAULT 'DAY',
    parent_ref TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    reason_code TEXT,
    reason_text TEXT,
    payload_json TEXT
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    intent_id INTEGER REFERENCES order_intents(id),
    order_ref TEXT,
    order_id INTEGER,
    perm_id INTEGER,
    client_id INTEGER,
    parent_id INTEGER,
    symbol TEXT,
    con_id INTEGER,
    action TEXT,
    quantity INTEGER,
    order_type TEXT,
    limit_price TEXT,
    aux_price TEXT,
    tif TEXT,
    status TEXT,
    filled INTEGER NOT NULL DEFAULT 0,
    remaining INTEGER,
    avg_fill_price TEXT,
    why_held TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX orders_perm ON orders(perm_id) WHERE perm_id IS NOT NULL AND perm_id != 0;
CREATE INDEX orders_ref ON orders(order_ref);

CREATE TABLE executions (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    exec_id TEXT UNIQUE,
    flex_transaction_id TEXT UNIQUE,
    perm_id INTEGER,
    order_id INTEGER,
    order_ref TEXT,
    con_id INTEGER,
    symbol TEXT,
    sec_type TEXT,
    right TEXT,
    strike TEXT,
    expiry TEXT,
    side TEXT,
    quantity TEXT NOT NULL,
    price TEXT NOT NULL,
    time TEXT NOT NULL,
    commission TEXT,
    commission_currency TEXT,
    realized_pnl TEXT,
    source TEXT NOT NULL DEFAULT 'api',
    trade_id INTEGER
);
CREATE INDEX executions_ref ON executions(order_ref);

CREATE TABLE trades (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    trade_strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    sec_type TEXT NOT NULL DEFAULT 'OPT',
    con_id INTEGER,
    right TEXT,
    strike TEXT,
    expiry TEXT,
    multiplier INTEGER NOT NULL DEFAULT 100,
    quantity INTEGER NOT NULL,
    entry_time TEXT,
    entry_price TEXT,
    exit_time TEXT,
    exit_price TEXT,
    exit_reason TEXT,
    commission TEXT NOT NULL DEFAULT '0',
    gross_pnl TEXT,
    net_pnl TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    entry_order_ref TEXT,
    entry_order_id INTEGER,
    entry_perm_id INTEGER,
    exit_order_id INTEGER,
    stop_order_id INTEGER,
    bracket_status TEXT,
    config_snapshot_id INTEGER REFERENCES config_snapshots(id),
    lineup_id INTEGER REFERENCES lineup(id),
    regime TEXT,
    estimated INTEGER NOT NULL DEFAULT 0,
    stale INTEGER NOT NULL DEFAULT 0,
    related_trade_id INTEGER REFERENCES trades(id),
    basis_adjustment TEXT,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX trades_status ON trades(account_id, status);
CREATE INDEX trades_con ON trades(con_id);

CREATE TABLE flex_imports (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    kind TEXT NOT NULL,
    query_id TEXT,
    reference_code TEXT,
    from_date TEXT,
    to_date TEXT,
    fetched_at TEXT NOT NULL,
    sha256 TEXT,
    status TEXT NOT NULL,
    rows_total INTEGER NOT NULL DEFAULT 0,
    rows_new INTEGER NOT NULL DEFAULT 0,
    rows_skipped INTEGER NOT NULL DEFAULT 0,
    problems_json TEXT,
    summary_json TEXT
);

CREATE TABLE flex_rows (
    transaction_id TEXT PRIMARY KEY,
    import_id INTEGER NOT NULL REFERENCES flex_imports(id),
    account_id TEXT,
    kind TEXT NOT NULL,
    payload_json TEXT NOT NULL
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    account_id TEXT,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'info',
    code TEXT,
    message TEXT NOT NULL,
    data_json TEXT
);
CREATE INDEX events_ts ON events(ts);

CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    job TEXT NOT NULL,
    session_date TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    outcome TEXT NOT NULL DEFAULT 'running',
    reason TEXT,
    UNIQUE (account_id, job, session_date)
);

CREATE TABLE engine_state (
    account_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account_id, key)
);
"""
