"""Feedline's fanout worker: consumes events and writes home timelines into Redis."""
