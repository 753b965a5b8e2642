"""Bugs outside tests/processes/ that the path tests ran into, each as the smallest test that shows it.

Mark each ``@pytest.mark.xfail(strict=True, reason="<file>: <what goes wrong>")``. When the bug is fixed the
test passes, pytest reports the unexpected pass as a failure, and whoever fixed it removes the marker (and
moves the test next to the code it tests, or deletes it when a path test covers it). None is open.
"""
