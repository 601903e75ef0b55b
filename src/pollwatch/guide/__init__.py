"""The public voter guide: find a station at home or abroad, what to bring, its live status."""
