"""Users, API tokens, role assignments and the authorization policy. Depends on nothing else here."""
