"""Who may do what on the device: service PINs and roles (issue 13).

Knows people's permissions, not chips, current or screens: used by the control daemon (which owns
the state folder) and shown by the service screens through it.
"""
