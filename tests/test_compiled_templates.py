"""Templates are compiled once per process (crm.ui.CompiledTemplates), and again once edited."""

from __future__ import annotations

from jinja2 import DictLoader, Environment

from crm.ui import CompiledTemplates


class _Counted(CompiledTemplates):
    """Counts the compilations: Jinja hands a bytecode cache each template it has compiled."""

    compiled = 0

    def dump_bytecode(self, bucket) -> None:
        self.compiled += 1
        super().dump_bytecode(bucket)


def test_apps_of_one_process_share_compiled_templates_and_an_edit_is_compiled_again():
    cache, sources = _Counted(), {"page.html": "Hello {{ name }}"}

    def render() -> str:  # a new environment each time, as each new app has
        env = Environment(loader=DictLoader(sources), bytecode_cache=cache, autoescape=True)
        return env.get_template("page.html").render(name="<b>")

    assert render() == "Hello &lt;b&gt;" and cache.compiled == 1
    assert render() == "Hello &lt;b&gt;" and cache.compiled == 1  # read back, not compiled again
    sources["page.html"] = "Goodbye {{ name }}"
    assert render() == "Goodbye &lt;b&gt;" and cache.compiled == 2  # its source changed
