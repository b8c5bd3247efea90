"""The smoke flow: every connection of the platform, end to end."""
