"""What ``civmil backup`` and ``civmil restore`` share: encryption to age recipients
(:mod:`.encryption`), which archives to keep (:mod:`.retention`) and the refusal to write the
service's files as root (:mod:`.service_user`). See docs/backup.md.
"""
