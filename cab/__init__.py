"""The change advisory board (CAB): who votes on which changes, by what rule, and the chair's agenda.

A domain package beside ``engine/``: the engine runs the shipped normal change's CAB vote (a multi-instance
user task in the ``cab`` role) and knows nothing of this package; ``app.py`` registers the services here
(``cab_open_vote``, ``cab_tally``) that open and close each review, and the API and web app run the
commands here (setting a model's rule, recording a meeting's outcomes) and read the agenda.
"""

from __future__ import annotations

from cab.rules import DEFAULT_RULE, Ballot, CabRule, DecisionRule, Outcome, Tally, Vote, tally
from cab.services import register_cab_services

__all__ = ["DEFAULT_RULE", "Ballot", "CabRule", "DecisionRule", "Outcome", "Tally", "Vote", "register_cab_services",
           "tally"]
