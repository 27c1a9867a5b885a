"""Headless unit tests (a package, so helper and test module names never collide)."""
