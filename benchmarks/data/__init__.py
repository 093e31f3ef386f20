"""Builders of the evaluation data sets (from the MaLP release, never shipped to a device)."""
