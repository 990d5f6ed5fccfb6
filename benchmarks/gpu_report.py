"""The output of ``benchmarks/gpu.py``: Markdown lines printed as they come
(and written to ``--output``), tables, and the formats of their cells."""

from __future__ import annotations


class Report:
    def __init__(self, path):
        self.path = path
        self.lines = []

    def emit(self, text=""):
        print(text, flush=True)
        self.lines.append(text)
        if self.path:
            with open(self.path, "w") as f:
                f.write("\n".join(self.lines) + "\n")

    def table(self, headers, rows):
        self.emit("| " + " | ".join(headers) + " |")
        self.emit("|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|")
        for row in rows:
            self.emit("| " + " | ".join(str(c) for c in row) + " |")
        self.emit()


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}f}"


def mib(b):
    return "-" if b is None else f"{b / 2**20:,.2f}"
