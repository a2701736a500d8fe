"""Provider types and how each authenticates upstream."""
