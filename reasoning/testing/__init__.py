"""Test doubles that speak our own contracts: a scripted adapter and fake upstream servers."""
