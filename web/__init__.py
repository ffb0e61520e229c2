"""Flask kiosk and supervisor review (built in a later step)."""
