"""The headless engine's scheduler: the day's jobs on the NYSE calendar, catch-up rules after
downtime, and the runner that executes them on the engine clock (docs/automation.md)."""
