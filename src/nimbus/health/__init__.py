"""Liveness, readiness and the original `/healthcheck`."""
