"""One description of a summary table, rendered to a Rich table (console), Markdown and CSV (files)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROW_NAMES = ("run", "setting")  # the columns that name a row (compare's and sweep's first column is the rank)


@dataclass
class Column:
    key: str
    header: str
    format: str | Callable[[Any], str] = "{}"  # a format string for one value, or a function
    left: bool = False  # text columns align left, numbers right

    def text(self, row: dict[str, Any]) -> str:
        value = row.get(self.key)
        if value is None:
            return ""
        if isinstance(value, float) and value != value:  # NaN: nothing measured
            return "n/a"
        return self.format(value) if callable(self.format) else self.format.format(value)


@dataclass
class TableSpec:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    show_header: bool = True
    section_after: set[int] = field(default_factory=set)  # row indices followed by a rule
    notes: list[str] = field(default_factory=list)  # sentences under the table

    def to_rich(self) -> Any:
        """A renderable that is the table where its numbers fit the console's width, else each row as a block of
        header: value lines: a number or a run's name is never cut to "0.9…" on a narrow terminal."""
        return _Fitted(self)

    def rich_table(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=escape(self.title), title_justify="left", show_header=self.show_header,
                      caption=escape("\n".join(self.notes)) or None, caption_justify="left")
        for column in self.columns:
            whole = column.key == "run" or not column.left  # text folds onto the next line; these never break
            table.add_column(column.header, justify="left" if column.left else "right", no_wrap=whole,
                             overflow="fold")
        for index, row in enumerate(self.rows):
            # user text such as "data.features=[x1, x2]" is shown as written, never read as Rich markup
            table.add_row(*(escape(column.text(row)) for column in self.columns), end_section=index in self.section_after)
        return table

    def rich_blocks(self) -> Any:
        """Each row as a two-column block (header, value) under what names the row (its run, its sweep setting, else
        its first column), for narrow terminals."""
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table
        from rich.text import Text

        first = next((c for key in ROW_NAMES for c in self.columns if c.key == key), self.columns[0])
        rest = [c for c in self.columns if c is not first]
        parts: list[Any] = [Text(self.title)] if self.title else []
        for row in self.rows:
            block = Table(title=escape(first.text(row)), title_justify="left", show_header=False, box=None,
                          padding=(0, 1, 0, 2))
            block.add_column(overflow="fold")
            block.add_column(overflow="fold")
            for column in rest:
                text = column.text(row)
                if text:  # an empty cell says nothing in a block
                    block.add_row(escape(column.header), escape(text))
            parts.append(block)
        parts += [Text(note) for note in self.notes]
        return Group(*parts)

    def to_markdown(self) -> str:
        lines = ["| " + " | ".join(c.header for c in self.columns) + " |",
                 "|" + "|".join("---" if c.left else "---:" for c in self.columns) + "|"]
        lines += ["| " + " | ".join(c.text(row).replace("|", "\\|") for c in self.columns) + " |" for row in self.rows]
        return "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in self.notes)

    def csv_rows(self) -> list[dict[str, Any]]:
        """Raw values (not the formatted text), one column per key, for runs.write_csv: the file loads back as
        numbers."""
        return [{c.key: row.get(c.key) for c in self.columns} for row in self.rows]


def key_values(title: str, pairs: list[tuple[str, str]]) -> TableSpec:
    """A two-column table of labels and already formatted values (a run's summary)."""
    return TableSpec(title, [Column("key", "", left=True), Column("value", "", left=True)],
                     [{"key": k, "value": v} for k, v in pairs], show_header=False)


class _Fitted:
    """TableSpec.to_rich's renderable: decides at print time, when the width is known."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        table = self.spec.rich_table()
        unbounded = options.update_width(10 ** 6)  # measured within the width, every minimum would fit it
        fits = Measurement.get(console, unbounded, table).minimum <= options.max_width
        yield table if fits or not self.spec.show_header else self.spec.rich_blocks()
