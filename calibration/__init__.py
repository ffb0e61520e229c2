"""Site calibration (uniform enrolment) and evaluation on labelled photo sets."""
