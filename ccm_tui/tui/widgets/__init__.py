"""Widgets of the monitor: one pane each."""
