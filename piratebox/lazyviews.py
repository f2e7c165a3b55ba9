"""Pages a villager's phone never asks for, read from disk at their first request.

The mediator's sync, backup and stick pages and the café's printables are most of the code
a box never runs on a Saturday. A feature of that kind declares its addresses on a
`LazyBlueprint` in its routes.py and writes its views as plain functions in the module the
blueprint names. The addresses are registered at start, under the blueprint's name, so
`url_for` builds a link to any of them from any page before one was visited, the server's
guard knows what body each accepts, and the app's hooks (the phone, CSRF, the rate limits,
the page cache's sections) apply to them as to every view. The module and what it imports
are read by the first request that reaches one of its views (Flask's "lazily loading
views", one module per blueprint). A mediator's page says so where its address is
declared: the login is checked before its module is read, so a visitor's request for it
loads nothing.
"""

import importlib

from flask import Blueprint

from piratebox import bodies
from piratebox.phone import admin_required


class LazyView:
    """The function `name` of the module `module`, imported at its first call."""

    def __init__(self, module, name):
        self.module = module
        self.__name__ = name
        self.view = None

    def __call__(self, *args, **kwargs):
        view = self.view
        if view is None:  # two threads may look it up at once: the import holds a lock
            view = self.view = getattr(importlib.import_module(self.module), self.__name__)
        return view(*args, **kwargs)


class LazyBlueprint(Blueprint):
    """A blueprint whose views live in the module `views`, not imported until used."""

    def __init__(self, name, import_name, views, **options):
        super().__init__(name, import_name, **options)
        self.views = views
        self.lazy_views = {}

    def page(self, rule, name, methods=("GET",), body=None, mediator_only=False):
        """The view `name` answers at `rule`; a view that takes a body other than a small
        form says its kind here (see piratebox/bodies.py), as `@accepts` says it of a view
        defined at start, and a mediator's page says `mediator_only` here, as
        `@admin_required` says it of one defined at start."""
        view = self.lazy_views.get(name)
        if view is None:
            view = LazyView(self.views, name)
            if mediator_only:
                view = admin_required(view)
            if body:
                bodies.accepts(body)(view)
            self.lazy_views[name] = view
        self.add_url_rule(rule, name, view, methods=list(methods))
