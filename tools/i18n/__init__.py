"""Developer tooling for the kiosk's gettext catalogues (Babel); not part of the runtime package."""
