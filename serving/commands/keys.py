"""``talentmap keys new`` and ``keys hash``: API keys and their hashed config entries.

A key to hash is read from stdin, never from an argument (it would end up in shell
history).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console


def keys_new(
    name: Annotated[str, typer.Option(help="Holder of the key (shown in the audit log).")],
    role: Annotated[str, typer.Option(help="staff (read) or admin (also reload).")] = "staff",
) -> None:
    """Print a new random key (give it to its holder) and its hashed config entry."""
    from talentmap.serving.auth import hash_key, new_key
    from talentmap.settings.serving import ApiKeyEntry

    key = new_key()
    entry = ApiKeyEntry(name=name, role=role, sha256=hash_key(key))  # type: ignore[arg-type]
    console = Console(stderr=True)
    console.print("API key (shown once; store it in the holder's password manager):")
    sys.stdout.write(key + "\n")
    console.print("Add this entry to TALENTMAP_SERVING__API_KEYS (a JSON list):")
    console.print_json(entry.model_dump_json())


def keys_hash() -> None:
    """Read a key on stdin and print its SHA-256, as the config expects."""
    from talentmap.serving.auth import hash_key

    key = sys.stdin.readline().strip()
    if not key:
        raise typer.BadParameter("no key on stdin")
    sys.stdout.write(hash_key(key) + "\n")
