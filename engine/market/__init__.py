"""Pure maths and time for putdesk: Black-Scholes, clocks, the NYSE calendar, regime signals."""
