"""Interfaces existing clients rely on: the original endpoints and the OpenAI-compatible `/v1`."""
