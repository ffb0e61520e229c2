"""Training and measuring the station's models from ../shared (needs the `train` extra; not part of the station wheel)."""
