"""A miniature Hugging Face Hub for rehearsing the full recipes on CPU (`python -m factory.hubsim`)."""
