"""An insurance-claims workflow modelled on graph-flow's ``insurance-claims-service``.

Rule-based and deterministic: it runs offline, with no language model and no API key.
"""
