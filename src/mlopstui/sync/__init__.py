"""Background sync: workers that keep the cache fresh, off the UI loop."""
