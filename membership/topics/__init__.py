"""Topic personalization: a catalogue of regions and themes that readers follow."""
