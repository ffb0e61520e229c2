"""One module per service-code rule; `checks.registry` builds the enabled ones from the policy config."""
