"""The app's URL rules: Werkzeug's, with their URL builders written when first used.

Werkzeug writes and compiles two Python functions per rule (building a URL with and without
unknown arguments) as the rule is added: nine tenths of ``create_app``'s time, paid by every
command, job process and web worker at start, though a process builds URLs for a few of its
routes only. Matching a request is unchanged (the rule's regex is still compiled at once).
"""

from __future__ import annotations

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A rule whose builder functions are compiled on the first URL built with each."""

    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        attribute = "_build_unknown" if append_unknown else "_build"

        def build(rule: Rule, **values):
            compiled = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, attribute, compiled)  # from now on Werkzeug calls it directly
            return compiled(**values)

        return build
