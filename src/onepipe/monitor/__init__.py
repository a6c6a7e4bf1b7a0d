"""Monitoring: prediction log, feedback, live metrics, drift and canary verdicts."""
