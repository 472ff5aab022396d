"""Vitrine components."""
