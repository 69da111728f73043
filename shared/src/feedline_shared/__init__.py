"""Feedline's common library: what every service needs once, and nothing service-specific."""
