"""Security checks of the upload limits: size (C10, 413) and type and count per dossier (C11, 415/422).

Both file through the portal map (login, create, upload; the files stored read back from the status
step's ``files`` capture when the map has one); the limits are the map's ``limits.max_file_bytes`` and
``limits.max_files_per_dossier`` (or the profile's, for the reference portal it sets up).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.map_steps import StepRunner
    from dvclab.load.profiles import Limits

MIB = 1024 * 1024
NO_COUNT = "not read back (add a 'files' capture to the map's status step)"


def filed(client: ProbeClient, check: str) -> tuple[StepRunner, Any] | Observed:
    """The check's citizen signed in with a new dossier: (its browser, the dossier), or the error."""
    steps = client.signed_in(check, ATTACKERS[check])
    created = client.draft(steps) if steps is not None else None
    dossier = created.captured.get("dossier") if created is not None and created.ok else None
    if steps is None or dossier is None:
        return {"error": "could not log in or create a dossier"}
    return steps, dossier


def stored(client: ProbeClient, steps: StepRunner) -> Any:
    """The files the portal says the dossier holds (the status step's ``files`` capture), or None."""
    if "files" not in client.run.portal_map.steps["status"].capture:
        return None
    return steps.run("status", expect=(200,)).captured.get("files")


def upload(client: ProbeClient, steps: StepRunner, name: str, content: bytes, expect: tuple[int, ...]) -> int:
    """One upload in a browser of its own presenting the session (uploads may run concurrently)."""
    return client.twin(steps).run("upload", expect=expect, filename=name, document=content).status


class UploadSize(SecurityCheck):
    id = "C10"
    name = "upload size"
    invariant = "oversize uploads get 413 and store nothing; max-size upload accepted; 0 5xx"

    def probe(self, client: ProbeClient) -> Observed:
        """Concurrent uploads of exactly the limit, the limit + 1 byte and the limit + 2 MiB."""
        limit = client.limit("max_file_bytes")
        ready = filed(client, self.id)
        if isinstance(ready, dict):
            return ready
        steps, dossier = ready
        sizes = [limit, limit + 1, limit + 2 * MIB]
        started = time.perf_counter()

        def up(i: int) -> tuple[int, float]:
            status = upload(client, steps, f"scan-{i}.pdf", data.pdf_bytes(sizes[i]), (201, 413))
            return status, round((time.perf_counter() - started) * 1000, 1)

        results = client.burst(len(sizes), up)
        count = stored(client, steps)
        statuses = [s for s, _ in results]
        return {
            "max_file_bytes": limit,
            "sizes": sizes,
            "statuses": statuses,
            "ms": [ms for _, ms in results],
            "file_count": count if count is not None else NO_COUNT,
            "dossier": dossier,
            "pass": statuses == [201, 413, 413] and count in (1, None),
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        files = db.files_of(observed["dossier"])
        return files == 1, {"db_files": files}


class UploadTypeAndCount(SecurityCheck):
    id = "C11"
    name = "upload type, count"
    invariant = (
        "wrong magic bytes get 415; concurrent uploads past the count get 422; "
        "stored files <= max per dossier"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """Wrong magic bytes, a script, a wrong extension; then the count limit + 5 uploads at once."""
        limit = client.limit("max_files_per_dossier")
        ready = filed(client, self.id)
        if isinstance(ready, dict):
            return ready
        steps, dossier = ready
        wrong = [
            upload(client, steps, "scan.pdf", data.PNG_HEAD + b"x" * 500, (415,)),
            upload(client, steps, "note.pdf", b"#!/bin/sh\necho hi\n", (415,)),
            upload(client, steps, "page.exe", data.pdf_bytes(800), (415,)),
        ]
        statuses = Counter(
            client.burst(
                limit + 5,
                lambda i: upload(client, steps, f"p{i}.pdf", data.pdf_bytes(2000), (201, 422)),
            )
        )
        count = stored(client, steps)
        return {
            "wrong_type": wrong,
            "burst": limit + 5,
            "statuses": {str(k): v for k, v in statuses.items()},
            "file_count": count if count is not None else NO_COUNT,
            "max": limit,
            "dossier": dossier,
            "pass": all(s == 415 for s in wrong)
            and statuses[201] <= limit
            and (count is None or count == statuses[201])
            and statuses[201] + statuses[422] == limit + 5,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        files = db.files_of(observed["dossier"])
        ok = files <= observed["max"] and (
            not isinstance(observed.get("file_count"), int) or files == observed["file_count"]
        )
        return ok, {"db_files": files}


C10 = UploadSize()
C11 = UploadTypeAndCount()
