"""The simulated board: emulated I2C bus and chips, analog front end, skin, GPIO, faults.

Only the board factory (``kiosk.hal.factory`` with ``sim=True``) and tests import this package;
control logic never does.
"""
