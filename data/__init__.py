"""Vitrine data."""
