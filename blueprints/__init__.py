"""Blueprints: declarative recipes for one business question each, and their registry."""
