"""Feedline's performance benchmark (``make bench``): seeds a realistic graph into an isolated copy
of the system, measures reads, fan-out and timeline memory, and writes ``bench/results/``."""
