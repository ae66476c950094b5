"""nercurve: sample-size (learning-curve) studies for fine-tuning named-entity recognizers."""

__version__ = "0.1.0"
