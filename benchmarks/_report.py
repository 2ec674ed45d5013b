"""The report every benchmark script prints: versions, tables with ratios, PASS/FAIL targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    """One scenario's results."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Render as aligned plain text."""
        widths = [
            max(len(row[i]) for row in (self.headers, *self.rows)) for i in range(len(self.headers))
        ]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        out = [f"\n== {self.title} ==", line(self.headers), "  ".join("-" * w for w in widths)]
        out += [line(row) for row in self.rows]
        out += [f"  note: {note}" for note in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        """Render as a Markdown section."""
        align = ["---", *["---:"] * (len(self.headers) - 1)]
        out = [f"### {self.title}", ""]
        out += [
            "| " + " | ".join(map(_cell, cells)) + " |"
            for cells in (self.headers, align, *self.rows)
        ]
        if self.notes:
            out += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(out) + "\n"


@dataclass
class Target:
    """One target of the issue and whether this run met it."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """``PASS name: detail``."""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


@dataclass
class Report:
    """Collects versions, tables, lists and targets; prints tables as they come."""

    title: str
    versions: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    lists: list[tuple[str, list[str]]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def add(self, table: Table) -> None:
        """Keep *table* and print it now."""
        self.tables.append(table)
        print(table.text(), flush=True)

    def add_list(self, title: str, items: list[str]) -> None:
        """Keep a titled list (failing cases, say) and print it now."""
        self.lists.append((title, items))
        print(f"\n-- {title} --")
        for item in items or ["(none)"]:
            print(f"  {item}")

    def target(self, name: str, passed: bool, detail: str) -> None:
        """Record whether a target was met."""
        self.targets.append(Target(name, passed, detail))

    def print_versions(self) -> None:
        """Print the versions block."""
        width = max(len(name) for name, _ in self.versions)
        print("== versions ==")
        for name, version in self.versions:
            print(f"{name.ljust(width)}  {version}")

    def print_targets(self) -> None:
        """Print one PASS/FAIL line per target."""
        print("\n== targets ==")
        for target in self.targets:
            print(target.line())
        passed = sum(t.passed for t in self.targets)
        print(f"{passed}/{len(self.targets)} targets met")

    def finish(self, elapsed: float, markdown: Path | None, *, intro: str) -> int:
        """Print the targets and the time taken, write the Markdown when asked; exit status 0."""
        self.print_targets()
        print(f"total time: {elapsed:.0f} s")
        if markdown is not None:
            self.write_markdown(markdown, intro=intro)
        return 0

    def write_markdown(self, path: Path, *, intro: str) -> None:
        """Write `markdown` to *path* (its folder created if needed) and say so."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown(intro=intro), encoding="utf-8")
        print(f"wrote {path}")

    def markdown(self, *, intro: str) -> str:
        """The whole report as Markdown; *intro* says how it was generated."""
        out = [
            f"## {self.title}",
            "",
            intro,
            "",
            "| component | version |",
            "| --- | --- |",
            *(f"| {name} | {version} |" for name, version in self.versions),
            "",
        ]
        out += [table.markdown() for table in self.tables]
        for title, items in self.lists:
            out += [f"### {title}", "", *(f"- {item}" for item in items or ["(none)"]), ""]
        out += ["### Targets", "", "| result | target | measured |", "| --- | --- | --- |"]
        out += [
            f"| {'PASS' if t.passed else 'FAIL'} | {_cell(t.name)} | {_cell(t.detail)} |"
            for t in self.targets
        ]
        return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """*text* as a Markdown table cell: a "|" in it would end the cell."""
    return text.replace("|", "\\|")
