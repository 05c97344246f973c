"""Write a bundle's chain of custody, its summary and its plain-text hash-verification statement."""
from __future__ import annotations

import json

from archiver.catalog.export import EXPORT_ACTIONS

FORMAT = "archiver evidence bundle 1"
HASH_RULE = ("hash = SHA-256 (hex) of the compact JSON array [prev_hash, at, action, doc_id, sha256, detail], "
             "written as Python's json.dumps(..., separators=(',', ':')) writes it (non-ASCII as \\uXXXX); "
             "detail is the JSON text exactly as stored; prev_hash is the hash of the entry before it "
             "in the archive's log (64 zeros for the first)")


def custody(archive, items, head: dict | None) -> dict:
    """Return the chain of custody of the items: each document's audit entries up to ``head``.

    Export entries are left out (see EXCLUDED): they describe the making of
    bundles, and leaving them out keeps a bundle the same however often it
    is made. The export of this very bundle is appended to the archive's log
    after ``head``, naming this bundle's payload manifest digest.
    """
    ids = [i.doc.id for i in items]
    events = archive.catalog.custody_events(ids, head["id"] if head else 0)
    documents = []
    for item in items:
        sources = archive.catalog.sources(item.doc.id)
        documents.append({
            "control_number": item.control_number, "doc_id": item.doc.id, "sha256": item.doc.sha256,
            "size": item.doc.size, "ingested_at": item.doc.ingested_at,
            "seen_at": [{"path": s.path, "first_seen": s.first_seen, "last_seen": s.last_seen, "status": s.status}
                        for s in sources],
            "attachment_of": [{"doc_id": m, "position": p, "name": n}
                              for m, p, n in archive.catalog.attachment_places(item.doc.id)],
            "events": events[item.doc.id],
        })
    return {"audit_head": head, "hash_rule": HASH_RULE,
            "excluded": f"audit entries with action {' or '.join(EXPORT_ACTIONS)} (the making of bundles; "
                        "this bundle's own export entries follow the head in the archive's log)",
            "documents": documents}


def summary(selection, items, names: dict[str, str], profile: str, head: dict | None, files: dict) -> dict:
    """Return bundle.json: what was selected, the control numbers, the families and the load-file fields."""
    members: dict[tuple, list[str]] = {}
    for i in items:
        members.setdefault(i.family, []).append(i.control_number)
    families = [{"parent": i.control_number, "members": members[i.family]}
                for i in items if i.parent is None and i.attachments]
    return {
        "format": FORMAT, "selection": selection.description, "request": selection.request.as_dict(),
        "node": selection.node, "documents": len(items),
        "control_numbers": {"first": items[0].control_number, "last": items[-1].control_number},
        "families": families, "profile": profile, "fields": names, "audit_head": head, "files": files,
    }


def statement(selection, items, head: dict | None, digest: str, statement_path: str) -> str:
    """Return the hash-verification statement: algorithm, manifest digest, and how to re-check it."""
    first, last = items[0].control_number, items[-1].control_number
    head_line = f"entry {head['id']}, hash {head['hash']}" if head else "empty (no entries)"
    lines = [
        "HASH-VERIFICATION STATEMENT",
        "",
        f"Selection: {selection.description}",
        f"Documents: {len(items)}, control numbers {first} to {last}",
        "Algorithm: SHA-256 (FIPS 180-4); manifest-sha512.txt repeats every file with SHA-512",
        f"Payload manifest digest: {digest}",
        f"  = SHA-256 of manifest-sha256.txt without its line for {statement_path}",
        f"Audit-log head of the archive when the bundle was made: {head_line}",
        "",
        "Every file of this bundle below data/ is listed with its SHA-256 digest in",
        "manifest-sha256.txt; the originals in data/natives/ are byte-identical to the files",
        "the archive received, whose SHA-256 is also the SHA256HASH column of data/loadfile.dat",
        "and the sha256 of each document in data/custody.json.",
        "",
        "To re-check with standard tools, in the bundle's top folder (GNU coreutils):",
        "  sha256sum -c manifest-sha256.txt       # every payload file: OK",
        "  sha512sum -c manifest-sha512.txt       # the same with SHA-512",
        "  sha256sum -c tagmanifest-sha256.txt    # bagit.txt, bag-info.txt and the manifests",
        f"  grep -v ' {statement_path}$' manifest-sha256.txt | sha256sum",
        "                                         # prints the payload manifest digest above",
        "Or with the Library of Congress BagIt tool:  bagit.py --validate BUNDLE",
        "Or with archiver:  archiver verify BUNDLE",
        "",
        "Each audit entry in data/custody.json can be re-checked on its own: " + HASH_RULE + ".",
        "",
    ]
    return "\n".join(lines)


def dump(value) -> bytes:
    """Return a JSON file's bytes: indented, keys in the order given, UTF-8, trailing newline."""
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
