"""Markdown tables of per-layer rows."""

import numbers


def _cell(value):
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4f}"
    return str(value)


def format_table(rows, columns=None):
    """Formats statistics rows as a Markdown table.

    Args:
        rows: :class:`LayerStatistics` or :class:`DeadUnits` objects, or dicts.
        columns: Keys to show, in order; default: every key of the first row.

    Returns:
        The table as a string.
    """
    dicts = [row if isinstance(row, dict) else row.as_dict() for row in rows]
    if not dicts:
        return ""
    columns = list(columns or dicts[0])
    body = [[_cell(row.get(key, "")) for key in columns] for row in dicts]
    widths = [max(len(cell) for cell in column) for column in zip(columns, *body)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(columns), rule, *(line(cells) for cells in body)])
