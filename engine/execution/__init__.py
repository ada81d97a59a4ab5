"""Execution at the open: Stage 2, two-tier pricing, brackets, watcher, recovery, kill switch."""
