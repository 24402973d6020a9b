"""Sweep screens (fleshed out below)."""
