"""Vitrine models."""
