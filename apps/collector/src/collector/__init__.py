"""Event collector service: teams POST events to it and GET recent events back."""

__version__ = "1.0.0"
