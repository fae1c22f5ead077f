"""Renderers of command results that more than one format or command needs."""
