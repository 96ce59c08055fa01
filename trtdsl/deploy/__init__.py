"""Deployment: the engine cache, refitting an engine with new weights, a Triton model
repository, and Polygraphy network scripts."""
