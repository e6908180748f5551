"""Channel choice: how each citizen files a dossier.

- self-service online: the citizen files on the portal and never visits a counter;
- online with a visit: filed online by the citizen, but a partial-online procedure, or originals demanded
  at the counter, brings them in anyway;
- assisted: an officer or helper at the counter files online on the citizen's behalf; the portal counts
  it as online, but it takes counter time;
- counter: paper at the counter; postal: submitted through the public post.
The citizen's segment (smartphone with a VNeID level-2 account, or reached by a community digital team)
and the procedure's online level decide; draws are one uniform per decision, so a scenario that moves a
threshold changes only the citizens near it (common random numbers).
"""

from __future__ import annotations

import numpy as np

from dvclab.catalog import Channel
from dvclab.sim.scenario import CHANNELS, Channels

# Dossiers carry their channel as a small integer code: its position in ``Channel``.
CODE = {channel: code for code, channel in enumerate(Channel)}
SELF_SERVICE = CODE[Channel.SELF_SERVICE]
ONLINE_WITH_VISIT = CODE[Channel.ONLINE_WITH_VISIT]
ASSISTED = CODE[Channel.ASSISTED]
COUNTER = CODE[Channel.COUNTER]
POSTAL = CODE[Channel.POSTAL]
assert tuple(Channel) == CHANNELS, "the scenario's per-channel settings follow Channel's order"
# Channels the provincial portal reports as "online" (the official >96%).
REPORTED_ONLINE = (SELF_SERVICE, ONLINE_WITH_VISIT, ASSISTED)
# Channels whose dossier is in the system in digital form from the start (the citizen or an officer filed
# it online).
CHANNELS_ONLINE_FILED = REPORTED_ONLINE
# Channels whose citizen comes to the counter, so arrives in opening hours (an online filer who must show
# originals files and comes in the same working day).
AT_COUNTER = (ONLINE_WITH_VISIT, ASSISTED, COUNTER)


def capable_share(settings: Channels) -> float:
    """Citizens who can file themselves: smartphone + VNeID level 2, or helped by a digital team."""
    return settings.capable_share + (1.0 - settings.capable_share) * settings.digital_team_coverage


def choose_channels(
    settings: Channels,
    full_online: np.ndarray,
    requires_originals: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One channel per dossier; ``full_online`` and ``requires_originals`` are per dossier."""
    n = len(full_online)
    u = rng.random((4, n))
    capable = u[0] < capable_share(settings)
    postal = u[1] < settings.postal_submission_share
    files_online = capable & np.where(
        full_online, u[2] < settings.self_service_propensity, u[2] < settings.partial_online_filing
    )
    assisted = u[3] < settings.assisted_filing_share

    channel = np.where(assisted, ASSISTED, COUNTER).astype(np.int8)
    online_visit = files_online & (~full_online | requires_originals)
    channel[online_visit] = ONLINE_WITH_VISIT
    channel[files_online & ~online_visit] = SELF_SERVICE
    channel[postal & ~files_online] = POSTAL
    return channel
