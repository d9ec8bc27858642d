"""``civmil ledger verify [--against FILE]``, ``civmil ledger checkpoint [--output FILE]``,
``civmil ledger rotate-key`` and ``civmil ledger erase SEQ --reason R --approved-by USERNAME``.

Exit status: 0 when the ledger verifies (or the checkpoint is signed, the change erased), 1 when
it does not verify or the erasure is refused (a garbled, missing or extra stored value included:
its entry is named), 2 when the command cannot run (unreadable checkpoint file, empty ledger, a
database that cannot be read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civmil.core import ledger
from civmil.core.choices import PRIVILEGED_ROLES
from civmil.core.errors import ServiceError
from civmil.core.management import support
from civmil.core.models import LedgerEntry

#: Problems listed after the first one, at most.
_SHOWN = 20


class Command(BaseCommand):
    help = "Verify the ledger (chain, stored changes, Merkle tree, checkpoints) or sign a checkpoint."
    # Verification must run even when an unrelated part of the configuration is broken.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{verify,checkpoint,rotate-key,erase}")
        verify = sub.add_parser("verify", help="Walk chain, tree and checkpoints; name the first bad entry.")
        verify.add_argument("--against", metavar="FILE",
                            help="A checkpoint kept elsewhere (from 'ledger checkpoint --output'): prove the "
                                 "ledger still extends it.")
        cp = sub.add_parser("checkpoint", help="Sign a checkpoint of the current ledger.")
        cp.add_argument("--output", metavar="FILE",
                        help="Write the signed checkpoint as JSON to FILE (default: print it).")
        sub.add_parser("rotate-key", help="Replace the signing key kept in var/ by a new one; the former key "
                                          "stays trusted for the checkpoints it signed.")
        erase = sub.add_parser("erase", help="Erase the change stored with one entry (personal data, an "
                                             "anonymous reporter's details), approved by a second person.")
        erase.add_argument("seq", type=int, metavar="SEQ", help="The entry's sequence number.")
        erase.add_argument("--reason", required=True, help="Why the change is erased (kept in the ledger).")
        erase.add_argument("--approved-by", dest="approved_by", required=True, metavar="USERNAME",
                           help="The account that approves: administrator, mission leadership or oversight.")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.db import DatabaseError, connection

        try:
            tables = set(connection.introspection.table_names())
        except DatabaseError as exc:
            raise CommandError(_("The database cannot be read: %(error)s") % {"error": exc}, returncode=2) from exc
        if LedgerEntry._meta.db_table not in tables:
            raise CommandError(_("This database holds no ledger yet: run \"civmil migrate\" first."), returncode=2)
        if options["subcommand"] == "verify":
            self._verify(options.get("against"))
        elif options["subcommand"] == "rotate-key":
            self._rotate_key()
        elif options["subcommand"] == "erase":
            self._erase(options["seq"], options["reason"], options["approved_by"])
        else:
            self._checkpoint(options.get("output"))

    def _erase(self, seq: int, reason: str, approved_by: str) -> None:
        """The operator at the console erases; the named account is the second person who approves."""
        approver = support.approver(approved_by, PRIVILEGED_ROLES)
        try:
            erased = ledger.erase_change(None, seq, reason, approver)
        except ServiceError as exc:
            details = "; ".join(str(m) for messages in exc.errors.values() for m in messages)
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        self.stdout.write(_("Erased the change of entry #%(seq)s; the erasure is entry #%(by)s.")
                          % {"seq": seq, "by": erased.seq})

    def _verify(self, against: str | None) -> None:
        from django.db import DatabaseError

        kept = _read_checkpoint(Path(against)) if against else None
        try:  # a garbled stored value is named by verify(); only a database that cannot be read lands here
            result = ledger.verify()
            if kept is not None:
                result = result.merge(ledger.verify_against(kept))
        except DatabaseError as exc:
            raise CommandError(_("The ledger cannot be read: %(error)s") % {"error": exc}, returncode=2) from exc
        if result.ok:
            self.stdout.write(_("ledger intact: %(entries)d entries, %(cps)d checkpoints verified, root %(root)s")
                              % {"entries": result.entries, "cps": result.checkpoints, "root": result.root})
            # Compared with a copy kept apart, it tells a restored ledger from one re-signed by a forger.
            from civmil.core.ledger.signing import public_key

            self.stdout.write(_("signing key: %(key)s") % {"key": public_key()})
            return
        problems = sorted(result.problems, key=lambda p: (p.seq is None, p.seq or 0))
        for problem in problems[:_SHOWN]:
            self.stdout.write(str(problem))
        if len(problems) > _SHOWN:
            self.stdout.write(_("... and %(n)d more problems") % {"n": len(problems) - _SHOWN})
        first = result.first
        assert first is not None
        if first.seq is not None:
            message = _("ledger does not verify: first bad entry #%(seq)d: %(why)s") % {
                "seq": first.seq, "why": first.reason}
        else:
            message = _("ledger does not verify: %(why)s") % {"why": str(first)}
        raise CommandError(message, returncode=1)

    def _checkpoint(self, output: str | None) -> None:
        try:
            signed = ledger.checkpoint()
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        text = json.dumps(ledger.checkpoint_to_dict(signed), indent=2, sort_keys=True) + "\n"
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(_("Cannot write %(file)s: %(error)s") % {"file": output, "error": exc.strerror},
                               returncode=2) from exc
        self.stdout.write(_("checkpoint %(id)d signed: %(size)d entries, root %(root)s, written to %(file)s")
                          % {"id": signed.pk, "size": signed.tree_size, "root": signed.root, "file": output})

    def _rotate_key(self) -> None:
        from civmil.core.backups.service_user import refuse_root
        from civmil.core.ledger import signing

        refuse_root("ledger rotate-key")
        try:
            rotation = signing.rotate_key()
        except signing.KeyFromEnvironment as exc:
            current = ledger.public_key()
            var_dir = getattr(settings, "CIVMIL_VAR_DIR", None)
            trusted_file = str(Path(var_dir) / signing.TRUSTED_KEYS_FILE) if var_dir else signing.TRUSTED_KEYS_FILE
            raise CommandError("\n".join([
                str(exc),
                _("To rotate it: generate a new seed, e.g. with"),
                "  python -c \"import nacl.signing, nacl.encoding; print(nacl.signing.SigningKey.generate()"
                ".encode(nacl.encoding.HexEncoder).decode())\"",
                _("add the current public key %(key)s as a line of %(file)s, set the new seed as "
                  "CIVMIL_LEDGER_SIGNING_KEY, restart every civmil process, then run 'civmil ledger "
                  "checkpoint'.") % {"key": current, "file": trusted_file},
            ]), returncode=2) from exc
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        self.stdout.write(_("ledger signing key rotated: new public key %(new)s; the former key %(old)s stays "
                            "trusted. Checkpoint %(id)d signed with the new key. Restart the other civmil "
                            "processes (servers, workers) so that they sign with it; publish the new public key.")
                          % {"new": rotation.public_key, "old": rotation.previous_public_key,
                             "id": rotation.checkpoint.pk})


def _read_checkpoint(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(_("Cannot read %(file)s: %(error)s") % {"file": path, "error": exc.strerror},
                           returncode=2) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise CommandError(_("%(file)s is not a JSON checkpoint (write one with 'civmil ledger checkpoint "
                             "--output FILE').") % {"file": path}, returncode=2) from exc
