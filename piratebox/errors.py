"""Every error the box reports on purpose, in one place.

Each carries a sentence for a person (what went wrong and what to do) as a template and
its values, so the web can show it translated and the CLI print it in one line; and the
HTTP status it maps to. app.py maps them once for the web and once for the CLI.
"""

import errno

from piratebox.i18n import N_, Message

# Why the system refused to write, in the reader's words (its own strerror is English).
SYSTEM_REASONS = {
    errno.ENOENT: N_("that folder does not exist"),
    errno.ENOTDIR: N_("that folder does not exist"),
    errno.EACCES: N_("no right to write there"),
    errno.EPERM: N_("no right to write there"),
    errno.EROFS: N_("the disk is read-only"),
    errno.ENOSPC: N_("the disk is full"),
    errno.EISDIR: N_("that is a folder, not a file"),
}


def system_reason(error, gettext):
    """An OSError's reason, translated when the box knows it, else the system's words."""
    known = SYSTEM_REASONS.get(error.errno)
    return gettext(known) if known else (error.strerror or str(error))


class PirateboxError(Exception):
    status = 400

    def __init__(self, template, **params):
        super().__init__(template.format(**params))
        self.template = template
        self.params = params

    @property
    def message(self):
        return str(self)

    def localized(self, gettext):
        return gettext(self.template).format(**self.params)

    def as_message(self):
        """The sentence, to be shown later in the reader's language (a sync's summary)."""
        return Message(self.template, **self.params)


class NotInitialised(PirateboxError):
    status = 503

    def __init__(self, data_dir):
        super().__init__(
            N_("No box in {data_dir}: run `piratebox --data {data_dir} init` first."),
            data_dir=data_dir,
        )


class AlreadyInitialised(PirateboxError):
    def __init__(self, data_dir):
        super().__init__(N_("{data_dir} already holds a box; nothing was changed."),
                         data_dir=data_dir)


class SchemaTooNew(PirateboxError):
    status = 503

    def __init__(self, found, known):
        super().__init__(
            N_("The database is at schema version {found} but this software knows only up to "
            "{known}: install the newer version of the software that wrote it."),
            found=found,
            known=known,
        )


class ConfigError(PirateboxError):
    status = 500


class BadInput(PirateboxError):
    pass


class Conflict(PirateboxError):
    status = 409


class NotAllowed(PirateboxError):
    status = 403


class NotHere(PirateboxError):
    """A page this box's role has no use for (a café poster at a hub)."""
    status = 404


class TooManyRequests(PirateboxError):
    status = 429

    def __init__(self, template, retry_after, **params):
        super().__init__(template, **params)
        self.retry_after = max(1, int(retry_after))


class PrintFailed(PirateboxError):
    status = 500
