"""The example project: graphflow-sessions behind an insurance-claims workflow (``make demo``)."""
