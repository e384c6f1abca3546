"""The city data hub: entities, the one write path, and the participants in every change."""
