"""What every entry point shares: exit codes, the state folder and its lock, headless arguments.

- ``exit_codes``: the numbers of docs/exit-codes.md and :func:`~kiosk.entry.exit_codes.guarded`
- ``state_dir``: which state folder a run uses, and the lock that keeps it to one instance
- ``headless_args``: the command line of ``kiosk --headless`` (checked at parse time)
"""
