"""The Textual monitor. Only this package imports Textual; the core never does."""
