"""One folder per external system. Knows nothing of models or serving."""
