"""The key that signs session cookies: made once per host and kept, so workers and restarts agree."""

from __future__ import annotations


def test_the_secret_key_is_made_once_and_kept(tmp_path, monkeypatch):
    import app as application

    monkeypatch.setattr(application, "ROOT", tmp_path)

    first, second = application._local_secret_key(), application._local_secret_key()

    assert first == second and len(first) == 64
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text() == first and key_file.stat().st_mode & 0o777 == 0o600
