"""``kiosk-scenario``: one treatment on the simulated board, scheduled events, a JSON verdict."""
