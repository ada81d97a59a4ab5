"""Candidate selection: universe sources, strike filters, scoring, the AI advisor, auto-select.

Pure decisions live in filters/scoring/portfolio/lineup; `pipeline` orchestrates the
request-minimal I/O against any `engine.domain.MarketData`; `service` wires it into EngineAPI.
"""
