"""Vitrine serving."""
