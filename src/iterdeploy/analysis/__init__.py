"""Measure and govern a loop: paper tables, reward audit, plots, report, release gate, theory."""
