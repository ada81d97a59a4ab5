"""NakedTrader: the mechanical daily SPX/XSP/SPY put sale (docs/nakedtrader.md)."""
