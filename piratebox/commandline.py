"""The command line's manners: it speaks the mediator's language (French unless
PIRATEBOX_LANG or `piratebox --lang en` says otherwise: help, messages, errors) from the
pages' catalogue, and says what went wrong in one line with a non-zero exit."""

import inspect
import os
import sys

import click

from piratebox.errors import PirateboxError
from piratebox.i18n import Voice

_ = Voice()  # what the commands say, in the mediator's language (see Commands)


class Refusal(click.ClickException):
    """A command that cannot do what was asked: one line, in the mediator's language."""

    def show(self, file=None):
        click.echo(_("Error: {message}", message=self.format_message()),
                   file=file or sys.stderr)


class TranslatedHelp:
    """A command whose help is said in the run's language, translated when it is shown:
    the catalogue is read only by a run that speaks (the server reads it once its data
    directory is open, from the cache there: see i18n.keep_catalogues_in)."""

    def get_help(self, ctx):
        translate_help(ctx.find_root().command)
        return super().get_help(ctx)


class Command(TranslatedHelp, click.Command):
    pass


class Commands(TranslatedHelp, click.Group):
    """Speaks the mediator's language (French unless PIRATEBOX_LANG or --lang says
    otherwise: help, messages and errors), and turns the box's own errors into one clear
    line and a non-zero exit."""

    command_class = Command
    group_class = type  # its groups are Commands too

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:
            _.use(chosen_language(args))
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PirateboxError as error:
            raise Refusal(error.localized(_)) from None


def chosen_language(args):
    """--lang before the command, else PIRATEBOX_LANG, else French."""
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-") and index and args[index - 1] not in ("--data",):
            break  # the command's own options start here
    return os.environ.get("PIRATEBOX_LANG") or "fr"


def translate_help(command):
    """Give every command and option its help in the language chosen for this run (the
    English texts in the code are the message ids, kept aside for the next run)."""
    original = command.__dict__.setdefault("original_help", command.help)
    command.help = _(inspect.cleandoc(original)) if original else original
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            param.original_help = getattr(param, "original_help", param.help)
            param.help = _(param.original_help)
    for sub in getattr(command, "commands", {}).values():
        translate_help(sub)


def lang_option(_ctx, _param, value):
    return value  # read before parsing, by Commands.make_context
