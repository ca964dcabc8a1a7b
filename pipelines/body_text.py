"""trafilatura's result tree -> the article's paragraphs, layout tables read as the page lays out.

trafilatura keeps tables (many older pages lay their whole story out in table cells) and prints
each table row as one line, ``| cell | cell |``. For a data table that is right; for a *layout*
table it glues the story's paragraphs, and the menus in the next cells, into one line. A table
is a layout table when one of its cells holds blocks of its own (paragraphs, headings, lists,
quotes, other tables), at least two and some text (a data cell holds at most one: a ``<br>``
line, a word processor's ``<p>``). Such a table is unwrapped before the text
is printed: each cell's blocks take the table's place, in reading order, and a cell of plain
text becomes a paragraph of its own. Then trafilatura's own text renderer (``xmltotxt``) prints
the tree, so lists, quotes and data tables read as trafilatura prints them.

Reads no settings; pure functions, no Scrapy.
"""

from __future__ import annotations

from lxml import etree
from trafilatura.xml import xmltotxt

_BLOCKS = frozenset({"p", "head", "list", "quote", "table", "code"})
LAYOUT = "layout-cell"  # the attribute that marks a block taken out of a layout table
LAYOUT_TEXT = 200  # characters in a cell of blocks that make its table a layout table


def _is_layout(table: etree._Element) -> bool:
    """A cell of it holds blocks of its own, at least two and LAYOUT_TEXT characters: a story
    or a column of the page. A data cell may hold one block (a ``<p>`` in a word processor's
    table, a ``<br>``-broken address), never a page's column."""
    for cell in table.iter("cell"):
        blocks = sum(1 for child in cell if child.tag in _BLOCKS)
        if blocks >= 2 and len("".join(cell.itertext()).strip()) >= LAYOUT_TEXT:
            return True
    return False


def _cells_as_blocks(table: etree._Element) -> list[etree._Element]:
    blocks: list[etree._Element] = []  # each marked LAYOUT: it stood in a layout table's cell
    for row in table.iterfind("row"):
        for cell in row.iterfind("cell"):
            tail, cell.tail = cell.tail, None
            if tail and tail.strip():  # text after a cell: trafilatura printed it in the row
                cell.append(etree.Element("p"))
                cell[-1].text = tail
            if not any(child.tag in _BLOCKS for child in cell):
                if "".join(cell.itertext()).strip():
                    cell.tag = "p"  # a cell of plain text (and inline markup) is a paragraph
                    cell.attrib.clear()
                    blocks.append(cell)
                continue
            if cell.text and cell.text.strip():
                lead = etree.Element("p")
                lead.text = cell.text
                blocks.append(lead)
            for child in list(cell):
                blocks.append(child)
                if child.tail and child.tail.strip():  # loose text after a block
                    loose = etree.Element("p")
                    loose.text, child.tail = child.tail, None
                    blocks.append(loose)
    return blocks


def unwrap_layout_tables(body: etree._Element) -> int:
    """Replace each layout table in `body` (in place) by its cells' blocks; returns how many."""
    count = 0
    # inner tables first, so that an outer table is judged by what its cells then hold
    for table in reversed(list(body.iter("table"))):
        parent = table.getparent()
        if parent is None or not _is_layout(table):
            continue
        at = parent.index(table)
        tail = table.tail
        blocks = _cells_as_blocks(table)
        parent.remove(table)
        for offset, block in enumerate(blocks):
            block.set(LAYOUT, "")
            parent.insert(at + offset, block)
        if tail and tail.strip():
            loose = etree.Element("p")
            loose.text = tail
            parent.insert(at + len(blocks), loose)
        count += 1
    return count


def body_lines(body: etree._Element | None) -> list[tuple[str, bool]]:
    """The result tree's text lines as trafilatura prints them, layout tables unwrapped first;
    each with whether it stood in a layout table's cell."""
    if body is None:
        return []
    if body.find(".//table") is None:
        return [(line, False) for line in xmltotxt(body, include_formatting=False).splitlines()]
    unwrap_layout_tables(body)
    lines: list[tuple[str, bool]] = [(body.text, False)] if body.text and body.text.strip() else []
    for block in body:
        tail, block.tail = block.tail, None  # the body's loose text, printed on its own below
        cell = block.get(LAYOUT) is not None
        lines += [(line, cell) for line in xmltotxt(block, include_formatting=False).splitlines()]
        if tail and tail.strip():
            lines.append((tail, False))
    return lines
