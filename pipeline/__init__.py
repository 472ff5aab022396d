"""Vitrine pipeline."""
