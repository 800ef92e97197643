"""The formula table at the top of notebooks/README.md and the notebooks' check cells agree.

Each formula a course notebook shows is checked by a code cell whose metadata lists the formula's
id, ``"formulas": ["01-output-size", ...]`` (metadata is not shown to students). The README's table
has one row per id: id, formula, notebook, check. These tests keep the two in sync and make sure
that every marked cell asserts something and was executed without an error.

To add the rows of another notebook: mark its check cells the same way, add its rows to the table
(between the two ``formula-table`` comments), and add its number to ``NOTEBOOKS_WITH_ROWS``.
"""

import json
import pathlib
import re

import pytest

pytestmark = pytest.mark.backend_independent

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
README = NOTEBOOKS / "README.md"
# Notebooks whose formulas are all in the table; each must have at least one marked cell.
NOTEBOOKS_WITH_ROWS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15")

ASSERTION = re.compile(r"\bassert\b|np\.testing\.assert_\w+\(")
NOTEBOOK_LINK = re.compile(r"^\[(\d\d)\]\((\d\d_[\w.-]+\.ipynb)\)$")
ID = re.compile(r"^`(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*`$")


def table_rows():
    """(id, formula, notebook number, notebook file, check) for every row of the formula table."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- formula-table:start -->"), text.index("<!-- formula-table:end -->")
    lines = [line for line in text[start:end].splitlines() if line.startswith("|")]
    assert lines[0].replace(" ", "") == "|id|formula|notebook|check|", lines[0]
    rows = []
    for line in lines[2:]:  # after the header and its --- line
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == 4, f"a row needs 4 cells (id, formula, notebook, check): {line}"
        identifier, formula, notebook, check = cells
        id_match, link_match = ID.match(identifier), NOTEBOOK_LINK.match(notebook)
        assert id_match, f"ids look like `01-output-size`: {identifier}"
        assert link_match, f"the notebook cell links the notebook, e.g. [01](01_convolution.ipynb): {notebook}"
        number, file_name = link_match.groups()
        assert id_match.group(1) == number and file_name.startswith(number), line
        assert formula and check, f"empty formula or check: {line}"
        rows.append((identifier.strip("`"), formula, number, file_name, check))
    return rows


def marked_cells():
    """{id: (notebook file, cell index, cell)} for every cell that names a formula in its metadata."""
    marked = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            for identifier in cell.get("metadata", {}).get("formulas", []):
                assert identifier not in marked, f"{identifier} marks two cells: {marked.get(identifier)[:2]}, {(path.name, index)}"
                marked[identifier] = (path.name, index, cell)
    return marked


def test_table_ids_are_unique():
    identifiers = [row[0] for row in table_rows()]
    duplicates = sorted({identifier for identifier in identifiers if identifiers.count(identifier) > 1})
    assert not duplicates


def test_table_links_existing_notebooks():
    for _, _, _, file_name, _ in table_rows():
        assert (NOTEBOOKS / file_name).exists(), file_name


def test_every_row_has_a_check_cell_and_every_check_cell_a_row():
    rows = {row[0]: row[3] for row in table_rows()}
    marked = marked_cells()
    assert sorted(set(rows) - set(marked)) == [], "rows without a marked check cell"
    assert sorted(set(marked) - set(rows)) == [], "marked check cells without a row in notebooks/README.md"
    for identifier, file_name in rows.items():
        assert marked[identifier][0] == file_name, f"{identifier}: the table says {file_name}, the marker is in {marked[identifier][0]}"


def test_check_cells_assert_and_ran_cleanly():
    for identifier, (file_name, index, cell) in marked_cells().items():
        where = f"{identifier} ({file_name}, cell {index})"
        source = "".join(cell["source"])
        assert cell["cell_type"] == "code", f"{where} is not a code cell"
        assert ASSERTION.search(source), f"{where} asserts nothing"
        assert cell.get("execution_count") is not None, f"{where} is committed unexecuted"
        errors = [output for output in cell.get("outputs", []) if output["output_type"] == "error"]
        assert not errors, f"{where} raised {errors[0]['ename']}"


@pytest.mark.parametrize("number", NOTEBOOKS_WITH_ROWS)
def test_covered_notebooks_have_rows(number):
    assert any(row[2] == number for row in table_rows()), f"notebook {number} has no row in the formula table"
