"""The reference for the launch benchmark: a bare Textual app with a header, a ten-row table and a footer."""

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header


class Bare(App):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("name", "state", "title")
        for i in range(10):
            t.add_row(f"row-{i}", "ready", f"BAREAPP row {i}")


if __name__ == "__main__":
    Bare().run()
