"""Human output with rich: tables on a terminal, plain text when piped; every cell, title and printed
line escaped (control characters shown, markup taken as text)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.console import Console as _RichConsole
from rich.console import JustifyMethod, OverflowMethod, RenderableType
from rich.style import StyleType
from rich.table import Table as _RichTable
from rich.text import Text

from monitor.core.controls import show_controls
from monitor.core.readable import zone_label


def _safe(value: object) -> object:
    """A cell or line for the terminal: control characters escaped (a loan id's ESC would colour or clear
    the operator's screen), and text as plain Text, so a value's `[red]` is shown, not taken as markup."""
    return _text(value) if isinstance(value, str) else value


def _safe_cell(value: RenderableType | None) -> RenderableType | None:
    return _text(value) if isinstance(value, str) else value


def _text(value: str) -> Text:
    # Line breaks our own cells put between lines (a count per line) stay: import refuses them in values.
    return Text("\n".join(show_controls(line) for line in value.split("\n")))


class Table(_RichTable):
    """rich's Table whose every cell and title goes through `_safe`: a table added later cannot forget it."""

    def __init__(self, *, title: str | None = None, show_header: bool = True) -> None:
        super().__init__(title=None if title is None else _text(title), show_header=show_header)

    def add_row(
        self, *renderables: RenderableType | None, style: StyleType | None = None, end_section: bool = False
    ) -> None:
        super().add_row(*(_safe_cell(r) for r in renderables), style=style, end_section=end_section)


class Console(_RichConsole):
    """rich's Console whose printed text goes through `_safe` (rich's own options passed on as they are)."""

    def print(
        self,
        *objects: object,
        sep: str = " ",
        end: str = "\n",
        style: StyleType | None = None,
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        no_wrap: bool | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        width: int | None = None,
        height: int | None = None,
        crop: bool = True,
        soft_wrap: bool | None = None,
        new_line_start: bool = False,
    ) -> None:
        super().print(
            *(_safe(o) for o in objects),
            sep=sep,
            end=end,
            style=style,
            justify=justify,
            overflow=overflow,
            no_wrap=no_wrap,
            emoji=emoji,
            markup=markup,
            highlight=highlight,
            width=width,
            height=height,
            crop=crop,
            soft_wrap=soft_wrap,
            new_line_start=new_line_start,
        )


def console() -> Console:
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped into a log or a file: 80 columns would fold every row of the ledger.
        console = Console(soft_wrap=False, width=132)
    return console


def cell(value: object, tz: tzinfo | None = None) -> str:
    """A cell. Times are shown in `tz` (the table's one zone, named in its title), else as they are."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        shown: datetime = value.astimezone(tz) if tz is not None and value.tzinfo is not None else value
        return shown.strftime("%Y-%m-%d %H:%M")
    return str(value)


def zone_title(tz: tzinfo) -> str:
    return f"times {zone_label(tz)}"
