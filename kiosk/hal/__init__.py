"""Hardware abstraction: chips and pins, spoken to in physical units.

``hal`` knows the MCP4725, the ADS1115, the relays and the GPIO map of hardware.md; it knows
nothing of treatments. ``hal.sim`` is the simulated board and is reached only through the board
factory (``--sim``).
"""
