"""Security checks of the upload limits: size (C10, 413) and type and count per dossier (C11, 415/422)."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

MIB = 1024 * 1024


class UploadSize(SecurityCheck):
    id = "C10"
    name = "upload size"
    invariant = "oversize uploads get 413 and store nothing; max-size upload accepted; 0 5xx"

    def probe(self, client: ProbeClient) -> Observed:
        """Concurrent uploads of exactly the limit, the limit + 1 byte and the limit + 2 MiB."""
        limit = client.run.profile.limits.max_file_bytes
        token = client.login_as(self.id, ATTACKERS[self.id])
        dossier = client.new_dossier(self.id, token) if token else None
        if token is None or dossier is None:
            return {"error": "could not log in or create a dossier"}
        sizes = [limit, limit + 1, limit + 2 * MIB]
        started = time.perf_counter()

        def up(i: int) -> tuple[int, float]:
            pdf = data.pdf_bytes(sizes[i])
            r = client.upload(self.id, token, dossier, f"scan-{i}.pdf", pdf, "application/pdf", (201, 413))
            return r.status_code, round((time.perf_counter() - started) * 1000, 1)

        results = client.burst(len(sizes), up)
        detail = client.dossier(self.id, token, dossier)
        statuses = [s for s, _ in results]
        return {
            "sizes": sizes,
            "statuses": statuses,
            "ms": [ms for _, ms in results],
            "file_count": detail.get("file_count"),
            "dossier": dossier,
            "pass": statuses == [201, 413, 413] and detail.get("file_count") == 1,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        stored = db.files_of(observed["dossier"])
        return stored == observed.get("file_count"), {"db_files": stored}


class UploadTypeAndCount(SecurityCheck):
    id = "C11"
    name = "upload type, count"
    invariant = (
        "wrong magic bytes get 415; concurrent uploads past the count get 422; "
        "stored files <= max per dossier"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """Wrong magic bytes, a script, a wrong extension; then the count limit + 5 uploads at once."""
        limit = client.run.profile.limits.max_files_per_dossier
        token = client.login_as(self.id, ATTACKERS[self.id])
        dossier = client.new_dossier(self.id, token) if token else None
        if token is None or dossier is None:
            return {"error": "could not log in or create a dossier"}
        pdf = "application/pdf"
        wrong = [
            client.upload(self.id, token, dossier, "scan.pdf", data.PNG_HEAD + b"x" * 500, pdf, (415,)),
            client.upload(self.id, token, dossier, "note.pdf", b"#!/bin/sh\necho hi\n", pdf, (415,)),
            client.upload(self.id, token, dossier, "page.exe", data.pdf_bytes(800), pdf, (415,)),
        ]
        statuses = Counter(
            client.burst(
                limit + 5,
                lambda i: (
                    client.upload(
                        self.id, token, dossier, f"p{i}.pdf", data.pdf_bytes(2000), pdf, (201, 422)
                    ).status_code
                ),
            )
        )
        stored = client.dossier(self.id, token, dossier).get("file_count")
        return {
            "wrong_type": [r.status_code for r in wrong],
            "burst": limit + 5,
            "statuses": {str(k): v for k, v in statuses.items()},
            "file_count": stored,
            "max": limit,
            "dossier": dossier,
            "pass": all(r.status_code == 415 for r in wrong)
            and stored == statuses[201]
            and stored is not None
            and stored <= limit
            and statuses[201] + statuses[422] == limit + 5,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        stored = db.files_of(observed["dossier"])
        ok = stored == observed.get("file_count") and stored <= limits.max_files_per_dossier
        return ok, {"db_files": stored}


C10 = UploadSize()
C11 = UploadTypeAndCount()
