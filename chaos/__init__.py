"""Faults under load: Feedline's chaos scenario (``make chaos``)."""
